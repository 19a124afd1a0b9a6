import Foundation
import StrataCore
import StrataTesting
import Testing

extension Integration.Lifecycle {
    /// Export from one Strata, import into another that runs in cache-only mode, and
    /// pull with skopeo: how an air-gapped site is seeded.
    @Test func exportImportSeedsACacheOnlyMirror() async throws {
        let binary = try #require(Integration.CommandLine.binary)
        let (registry, images) = try await SharedUpstream.shared.get()
        let source = try await StrataInstance.start(canonical: registry.url)
        for repository in ["library/small", "library/multi", "library/docker-list"] {
            _ = try Skopeo.copy("\(source.hostPort)/\(repository):1")
        }
        let bundle = makeTempDirectory("bundle") + "/bundle.tar"
        let exported = try runCommand(binary, ["export", "--cache-dir", source.cacheDirectory, "-o", bundle,
                                               "library/small:1", "docker.io/library/multi:1", "library/docker-list:1"])
        await source.stop()
        #expect(exported.status == 0, "\(exported.output)")
        #expect(exported.output.hasPrefix("exported 3 images"))
        // The bundle is a real OCI layout tar.
        let listing = try runCommand(which("tar") ?? "/bin/tar", ["-tf", bundle])
        let names = Set(listing.output.split(separator: "\n").map(String.init))
        #expect(names.contains("oci-layout") && names.contains("index.json"))
        for digest in images.small.allBlobs.keys { #expect(names.contains("blobs/sha256/\(digest.hex)")) }

        let target = makeTempDirectory("airgap")
        let imported = try runCommand(binary, ["import", "--cache-dir", target, bundle])
        #expect(imported.status == 0, "\(imported.output)")
        #expect(imported.output.hasPrefix("imported 3 images"))

        let airgapped = try await StrataInstance.start(canonical: nil, cacheDirectory: target, configure: { $0.cacheOnly = true })
        defer { Task { await airgapped.stop() } }
        for repository in ["library/small", "library/multi", "library/docker-list"] {
            let direct = try Skopeo.contents(try Skopeo.copy("\(registry.hostPort)/\(repository):1"))
            let seeded = try Skopeo.contents(try Skopeo.copy("\(airgapped.hostPort)/\(repository):1"))
            #expect(seeded == direct, "\(repository)")
        }
        let tier = try await fetch("\(airgapped.url)/v2/library/small/manifests/1", headers: [("Accept", MediaType.ociManifest.value)])
        #expect(tier.headers.first(name: "X-Strata-Tier") == "local")

        // An image that is not cached cannot be exported.
        let missing = try runCommand(binary, ["export", "--cache-dir", target, "-o", bundle + ".2", "library/big:1"])
        #expect(missing.status == 1)
        #expect(missing.output == "strata: docker.io/library/big:1 is not cached (pull or prefetch it first)\n")
    }

    /// A multi-platform image prefetched for one platform: `ls` shows that platform, a
    /// plain export says what is missing instead of writing an index that names absent
    /// manifests, and `--platform` exports that platform as the image.
    @Test func aMultiPlatformImageCachedForOnePlatformExportsThatPlatform() async throws {
        let binary = try #require(Integration.CommandLine.binary)
        let (registry, images) = try await SharedUpstream.shared.get()
        let source = try await StrataInstance.start(canonical: registry.url)
        let prefetched = try runCommand(binary, ["prefetch", "--admin", source.adminURL, "--platform", "linux/amd64", "library/multi:1"])
        #expect(prefetched.status == 0, "\(prefetched.output)")
        let ls = try runCommand(binary, ["ls", "--admin", source.adminURL, "library/multi"])
        #expect(ls.output.contains("linux/amd64") && !ls.output.contains("linux/arm64"), "\(ls.output)")
        await source.stop()

        let bundle = makeTempDirectory("bundle") + "/multi.tar"
        let refused = try runCommand(binary, ["export", "--cache-dir", source.cacheDirectory, "-o", bundle, "library/multi:1"])
        #expect(refused.status == 1)
        #expect(refused.output == "strata: docker.io/library/multi:1 is cached for linux/amd64 only, not linux/arm64: "
                + "export one platform with --platform, or prefetch every platform first\n", "\(refused.output)")
        let exported = try runCommand(binary, ["export", "--cache-dir", source.cacheDirectory, "-o", bundle, "--platform", "linux/amd64", "library/multi:1"])
        #expect(exported.status == 0, "\(exported.output)")
        // Other OCI tools read it whole: the image is the amd64 manifest.
        let skopeo = try #require(Skopeo.executable)
        let copy = makeTempDirectory("from-bundle")
        let copied = try runCommand(skopeo, ["--insecure-policy", "copy", "--all", "oci-archive:\(bundle):docker.io/library/multi:1", "dir:\(copy)"])
        #expect(copied.status == 0, "\(copied.output)")
        let amd64 = try #require(images.multi.children.first)
        let files = try Skopeo.contents(copy)
        #expect(files["manifest.json"] == Data(amd64.manifest))
        for digest in amd64.blobs.keys { #expect(files[digest.hex] != nil, "blob \(digest)") }
        let wrong = try runCommand(binary, ["export", "--cache-dir", source.cacheDirectory, "-o", bundle, "--platform", "linux/s390x", "library/multi:1"])
        #expect(wrong.status == 1 && wrong.output.contains("has no cached linux/s390x manifest (cached: linux/amd64)"), "\(wrong.output)")
    }

    /// A bundle whose blob does not match its digest is refused; nothing bad is stored.
    @Test func importRefusesABlobThatFailsItsDigest() async throws {
        let binary = try #require(Integration.CommandLine.binary)
        let dir = makeTempDirectory("badbundle")
        let good = Array("good bytes".utf8)
        let claimed = ContentHasher.digest(of: Array("other bytes".utf8))
        try FileManager.default.createDirectory(atPath: "\(dir)/layout/blobs/sha256", withIntermediateDirectories: true)
        try Data(#"{"imageLayoutVersion":"1.0.0"}"#.utf8).write(to: URL(fileURLWithPath: "\(dir)/layout/oci-layout"))
        try Data(#"{"schemaVersion":2,"manifests":[]}"#.utf8).write(to: URL(fileURLWithPath: "\(dir)/layout/index.json"))
        try Data(good).write(to: URL(fileURLWithPath: "\(dir)/layout/blobs/sha256/\(claimed.hex)"))
        let tar = try runCommand(which("tar") ?? "/bin/tar", ["-cf", "\(dir)/bad.tar", "-C", "\(dir)/layout", "oci-layout", "index.json", "blobs"])
        #expect(tar.status == 0)
        let result = try runCommand(binary, ["import", "--cache-dir", "\(dir)/cache", "\(dir)/bad.tar"])
        #expect(result.status == 1)
        #expect(result.output.contains("does not match its digest"))
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/cache/blobs/sha256/\(claimed.hex.prefix(2))/\(claimed.hex)"))
    }

    /// Finding 12: `strata import` trusted the bundle. A JSON blob typed `text/html`
    /// became a manifest served as `text/html`, and an invalid entry in `index.json`
    /// shifted the names of the others (`victim:latest` pointed at another image).
    @Test func importChecksManifestsAndNamesEachEntryByItself() async throws {
        let binary = try #require(Integration.CommandLine.binary)
        let dir = makeTempDirectory("hostile-bundle")
        let layout = "\(dir)/layout"
        try FileManager.default.createDirectory(atPath: "\(layout)/blobs/sha256", withIntermediateDirectories: true)
        func put(_ bytes: [UInt8]) throws -> Digest {
            let digest = ContentHasher.digest(of: bytes)
            try Data(bytes).write(to: URL(fileURLWithPath: "\(layout)/blobs/sha256/\(digest.hex)"))
            return digest
        }
        let victim = try ImageFixture.image(layers: [.random(2000)], label: "victim")
        let other = try ImageFixture.image(layers: [.random(2000)], label: "other")
        for image in [victim, other] {
            _ = try put(image.manifest)
            for bytes in image.blobs.values { _ = try put(bytes) }
        }
        let html = try put(Array(#"{"schemaVersion":2,"mediaType":"text/html","config":{}}"#.utf8))
        func entry(_ digest: String, _ type: String, _ name: String) -> String {
            #"{"mediaType":"\#(type)","digest":"\#(digest)","size":1,"annotations":{"org.opencontainers.image.ref.name":"\#(name)"}}"#
        }
        let index = #"{"schemaVersion":2,"manifests":["# + [
            entry("sha256:not-a-digest", MediaType.ociManifest.value, "docker.io/library/shifted:1"),
            entry(victim.digest.description, victim.mediaType, "docker.io/library/victim:latest"),
            entry(other.digest.description, other.mediaType, "docker.io/library/other:latest"),
            entry(html.description, "text/html", "docker.io/library/page:1"),
        ].joined(separator: ",") + "]}"
        try Data(index.utf8).write(to: URL(fileURLWithPath: "\(layout)/index.json"))
        try Data(#"{"imageLayoutVersion":"1.0.0"}"#.utf8).write(to: URL(fileURLWithPath: "\(layout)/oci-layout"))
        let tar = try runCommand(which("tar") ?? "/bin/tar", ["-cf", "\(dir)/bundle.tar", "-C", layout, "oci-layout", "index.json", "blobs"])
        #expect(tar.status == 0)
        let result = try runCommand(binary, ["import", "--cache-dir", "\(dir)/cache", "\(dir)/bundle.tar"])
        #expect(result.status == 0 && result.output.hasPrefix("imported 2 images"), "\(result.output)")

        let offline = try await StrataInstance.start(canonical: nil, cacheDirectory: "\(dir)/cache", configure: { $0.cacheOnly = true })
        defer { Task { await offline.stop() } }
        let accept = [("Accept", MediaType.ociManifest.value)]
        let named = try await fetch("\(offline.url)/v2/library/victim/manifests/latest", headers: accept)
        #expect(named.status == 200 && named.body == victim.manifest, "victim:latest names the victim's image")
        #expect(try await fetch("\(offline.url)/v2/library/other/manifests/latest", headers: accept).body == other.manifest)
        #expect(try await fetch("\(offline.url)/v2/library/shifted/manifests/1", headers: accept).status == 404)
        let page = try await fetch("\(offline.url)/v2/library/page/manifests/1")
        #expect(page.status == 404, "a text/html blob is not a manifest")
        let byDigest = try await fetch("\(offline.url)/v2/library/page/manifests/\(html)")
        #expect(byDigest.status == 404 && byDigest.headers.first(name: "Content-Type") != "text/html")
    }
}
