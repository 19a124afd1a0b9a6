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
