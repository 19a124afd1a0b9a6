import AsyncHTTPClient
import Foundation
import StrataCore
import StrataTesting
import Testing

extension Integration {
    /// Tag lists and deleted tags against Debian's `docker-registry`.
    @Suite struct UpstreamTags {
        @Test func tagListsComeFromTheRegistryAndATagDeletedThereAnswers404() async throws {
            let registry = DistributionRegistry()
            try await registry.start()
            defer { registry.stop() }
            let old = try ImageFixture.image(layers: [.random(64 << 10)], label: "old")
            let new = try ImageFixture.image(layers: [.random(64 << 10)], label: "new")
            let pusher = RegistryPusher(baseURL: registry.url)
            try await pusher.push(old, repository: "library/tagged", tags: ["old"])
            try await pusher.push(new, repository: "library/tagged", tags: ["new", "latest"])
            let clock = TestClock()
            let strata = try await StrataInstance.start(canonical: registry.url, tagTTL: 60, now: clock.closure)
            defer { Task { await strata.stop() } }

            // Nothing of the repository is cached: the list is the registry's.
            let listing = try await fetch("\(strata.url)/v2/library/tagged/tags/list")
            #expect(listing.headers.first(name: "X-Strata-Tier") == "canonical")
            #expect(try Skopeo.listTags("\(strata.hostPort)/library/tagged") == ["latest", "new", "old"])
            // Within tag_ttl it is not asked again.
            let before = try await registry.settledRequests().filter { $0.path.hasSuffix("/tags/list") }.count
            #expect(try Skopeo.listTags("\(strata.hostPort)/library/tagged") == ["latest", "new", "old"])
            #expect(try await registry.settledRequests().filter { $0.path.hasSuffix("/tags/list") }.count == before)

            _ = try Skopeo.copy("\(strata.hostPort)/library/tagged:old")
            let deleted = try await fetch("\(registry.url)/v2/library/tagged/manifests/\(old.digest)", method: .DELETE)
            #expect(deleted.status == 202)
            clock.advance(by: 120)

            let accept = [("Accept", MediaType.ociManifest.value)]
            let gone = try await fetch("\(strata.url)/v2/library/tagged/manifests/old", headers: accept)
            #expect(gone.status == 404)
            #expect(String(decoding: gone.body, as: UTF8.self).contains("MANIFEST_UNKNOWN"))
            // The verdict is remembered: the next requests do not reach the registry.
            let settled = try await registry.settledRequests().count
            for _ in 0..<3 {
                #expect(try await fetch("\(strata.url)/v2/library/tagged/manifests/old", headers: accept).status == 404)
            }
            #expect(try await registry.settledRequests().count == settled)
            #expect(try Skopeo.listTags("\(strata.hostPort)/library/tagged") == ["latest", "new"])
            // The manifest by digest is still cached.
            let byDigest = try await fetch("\(strata.url)/v2/library/tagged/manifests/\(old.digest)", headers: accept)
            #expect(byDigest.status == 200 && byDigest.headers.first(name: "X-Strata-Tier") == "local")
        }

        /// With `cache.deleted_tags: keep`, an offline build farm keeps building the deleted tag.
        @Test func withDeletedTagsKeptTheTagIsServedStale() async throws {
            let registry = DistributionRegistry()
            try await registry.start()
            defer { registry.stop() }
            let image = try ImageFixture.image(layers: [.random(64 << 10)], label: "kept")
            try await RegistryPusher(baseURL: registry.url).push(image, repository: "library/kept", tags: ["1"])
            let clock = TestClock()
            let strata = try await StrataInstance.start(canonical: registry.url, tagTTL: 60, configure: { $0.keepDeletedTags = true },
                                                        now: clock.closure)
            defer { Task { await strata.stop() } }
            let first = try Skopeo.contents(try Skopeo.copy("\(strata.hostPort)/library/kept:1"))
            #expect(try await fetch("\(registry.url)/v2/library/kept/manifests/\(image.digest)", method: .DELETE).status == 202)
            clock.advance(by: 120)
            let accept = [("Accept", MediaType.ociManifest.value)]
            let kept = try await fetch("\(strata.url)/v2/library/kept/manifests/1", headers: accept)
            #expect(kept.status == 200 && kept.headers.first(name: "Warning")?.hasPrefix("110") == true)
            #expect(try Skopeo.contents(try Skopeo.copy("\(strata.hostPort)/library/kept:1")) == first)
        }
    }
}
