import AsyncHTTPClient
import Foundation
import StrataCore
import StrataTesting
import Testing

extension Integration {
    /// The referrers API over HTTP: an upstream that supports it (the fake registry:
    /// Debian's `docker-registry` 2.8 does not), and one that does not (the real one).
    @Suite struct ReferrersAPI {
        static let sig = ReferrersIndex.Entry(mediaType: MediaType.ociManifest.value, digest: ContentHasher.digest(of: [1]), size: 500,
                                              artifactType: "application/vnd.dev.cosign.artifact.sig.v1+json", annotations: nil)
        static let sbom = ReferrersIndex.Entry(mediaType: MediaType.ociManifest.value, digest: ContentHasher.digest(of: [2]), size: 700,
                                               artifactType: "application/spdx+json", annotations: ["org.opencontainers.image.created": "2026-11-30T00:00:00Z"])

        @Test func referrersArePulledThroughFilteredAndKept() async throws {
            let subject = ContentHasher.digest(of: Array("subject".utf8))
            let upstream = FaultyRegistry(referrers: [subject: ReferrersIndex(manifests: [Self.sig, Self.sbom]).bytes], fault: .none)
            try await upstream.start()
            let strata = try await StrataInstance.start(canonical: upstream.url)
            defer { Task { await strata.stop(); await upstream.shutdown() } }
            let url = "\(strata.url)/v2/library/app/referrers/\(subject)"
            let all = try await fetch(url)
            #expect(all.status == 200)
            #expect(all.headers.first(name: "Content-Type") == MediaType.ociIndex.value)
            #expect(all.headers.first(name: "X-Strata-Tier") == "canonical")
            #expect(ReferrersIndex(parsing: all.body)?.manifests == [Self.sig, Self.sbom])
            #expect(all.headers.first(name: "OCI-Filters-Applied") == nil)
            let sboms = try await fetch(url + "?artifactType=application/spdx%2Bjson")
            #expect(sboms.headers.first(name: "OCI-Filters-Applied") == "artifactType")
            #expect(ReferrersIndex(parsing: sboms.body)?.manifests == [Self.sbom])
            #expect(sboms.headers.first(name: "X-Strata-Tier") == "local")
            // Kept: with upstream gone, the list is still there (within its TTL, from the cache).
            await upstream.shutdown()
            #expect(ReferrersIndex(parsing: try await fetch(url).body)?.manifests == [Self.sig, Self.sbom])
        }

        /// A signed image travels to an air-gapped site with its signature: prefetch and
        /// export `--with-referrers`, import, and the referrers API answers there.
        @Test func signaturesTravelWithTheirImageThroughExportAndImport() async throws {
            let binary = try #require(Integration.CommandLine.binary)
            let image = try ImageFixture.image(layers: [.random(100 << 10)], label: "signed")
            let signatureLayer = Array(#"{"critical":{"image":{"docker-manifest-digest":"\#(image.digest)"}}}"#.utf8)
            let empty = Array("{}".utf8)
            let signature = Array("""
                {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",                "artifactType":"application/vnd.dev.cosign.artifact.sig.v1+json",                "config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"\(ContentHasher.digest(of: empty))","size":2},                "layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","digest":"\(ContentHasher.digest(of: signatureLayer))","size":\(signatureLayer.count)}],                "subject":{"mediaType":"\(image.mediaType)","digest":"\(image.digest)","size":\(image.manifest.count)}}
                """.utf8)
            let signatureDigest = ContentHasher.digest(of: signature)
            let listed = ReferrersIndex.referrer(manifest: signature, digest: signatureDigest)!.entry
            var blobs = image.blobs
            blobs[ContentHasher.digest(of: empty)] = empty
            blobs[ContentHasher.digest(of: signatureLayer)] = signatureLayer
            let upstream = FaultyRegistry(
                blobs: blobs,
                manifests: ["1": (image.mediaType, image.manifest), image.digest.description: (image.mediaType, image.manifest),
                            signatureDigest.description: (MediaType.ociManifest.value, signature)],
                referrers: [image.digest: ReferrersIndex(manifests: [listed]).bytes], fault: .none)
            try await upstream.start()
            let source = try await StrataInstance.start(canonical: upstream.url)
            let prefetched = try runCommand(binary, ["prefetch", "--admin", source.adminURL, "--with-referrers", "library/signed:1"])
            #expect(prefetched.status == 0, "\(prefetched.output)")
            #expect(prefetched.output.contains(String(signatureDigest.hex.prefix(12))), "\(prefetched.output)")
            await upstream.shutdown()
            await source.stop()

            let plain = makeTempDirectory("bundle") + "/plain.tar"
            #expect(try runCommand(binary, ["export", "--cache-dir", source.cacheDirectory, "-o", plain, "library/signed:1"]).status == 0)
            let bundle = makeTempDirectory("bundle") + "/signed.tar"
            let exported = try runCommand(binary, ["export", "--cache-dir", source.cacheDirectory, "-o", bundle, "--with-referrers", "library/signed:1"])
            #expect(exported.status == 0, "\(exported.output)")
            let plainNames = try runCommand(which("tar") ?? "/bin/tar", ["-tf", plain]).output
            let names = try runCommand(which("tar") ?? "/bin/tar", ["-tf", bundle]).output
            #expect(!plainNames.contains(signatureDigest.hex) && names.contains("blobs/sha256/\(signatureDigest.hex)"))
            #expect(names.contains(ContentHasher.digest(of: signatureLayer).hex))

            let target = makeTempDirectory("airgap")
            #expect(try runCommand(binary, ["import", "--cache-dir", target, bundle]).status == 0)
            let airgapped = try await StrataInstance.start(canonical: nil, cacheDirectory: target, configure: { $0.cacheOnly = true })
            defer { Task { await airgapped.stop() } }
            let referrers = try await fetch("\(airgapped.url)/v2/library/signed/referrers/\(image.digest)")
            #expect(referrers.status == 200)
            #expect(ReferrersIndex(parsing: referrers.body)?.manifests == [listed])
            let fetched = try await fetch("\(airgapped.url)/v2/library/signed/manifests/\(signatureDigest)",
                                          headers: [("Accept", MediaType.ociManifest.value)])
            #expect(fetched.status == 200 && fetched.body == signature)
            let layer = try await fetch("\(airgapped.url)/v2/library/signed/blobs/\(ContentHasher.digest(of: signatureLayer))")
            #expect(layer.body == signatureLayer)
        }

        @Test func aRegistryWithoutTheAPIGets404PassedOn() async throws {
            let (registry, images) = try await SharedUpstream.shared.get()
            let strata = try await StrataInstance.start(canonical: registry.url)
            defer { Task { await strata.stop() } }
            let direct = try await fetch("\(registry.url)/v2/library/small/referrers/\(images.small.digest)")
            #expect(direct.status == 404)
            let through = try await fetch("\(strata.url)/v2/library/small/referrers/\(images.small.digest)")
            #expect(through.status == 404)
            #expect(RegistryAPI.code(through.body) == "MANIFEST_UNKNOWN")
            #expect(String(decoding: through.body, as: UTF8.self).contains("tag schema"))
        }
    }
}
