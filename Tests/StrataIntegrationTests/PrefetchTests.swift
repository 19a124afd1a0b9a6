import Foundation
import StrataCore
import StrataMirror
import StrataTesting
import Testing

extension Integration.Lifecycle {
    /// `strata prefetch` fills the cache; then every tier stops and the pulls still work.
    @Test func prefetchThenPullWithEveryTierStopped() async throws {
        let binary = try #require(Integration.CommandLine.binary)
        let registry = DistributionRegistry()
        try await registry.start()
        let images = try TestImages.make(bigLayer: 1 << 20)
        try await images.push(to: registry.url, only: ["library/small", "library/multi"])
        let strata = try await StrataInstance.start(canonical: registry.url)
        defer { Task { await strata.stop() } }

        let result = try runCommand(binary, ["prefetch", "--admin", strata.adminURL, "--platform", "linux/amd64",
                                             "library/small:1", "library/multi:1"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("library/small:1: done"))
        #expect(result.output.contains("prefetched 2 images (0 failed)"))
        let store = strata.server.disk.blobs
        let amd64 = try #require(images.multi.children.first { String(decoding: $0.blobs.values.first { $0.count < 2000 } ?? [], as: UTF8.self).contains("amd64") })
        let arm64 = try #require(images.multi.children.first { $0.digest != amd64.digest })
        for digest in amd64.blobs.keys { #expect(store.lookup(digest) != nil, "amd64 blob cached") }
        for digest in arm64.blobs.keys { #expect(store.lookup(digest) == nil, "arm64 blob not asked for") }

        registry.stop()
        let small = try Skopeo.contents(try Skopeo.copy("\(strata.hostPort)/library/small:1"))
        #expect(small["manifest.json"].map(Array.init) == images.small.manifest)
        let manifest = try await fetch("\(strata.url)/v2/library/multi/manifests/\(amd64.digest)")
        #expect(manifest.body == amd64.manifest)
        for (digest, bytes) in amd64.blobs {
            #expect(try await fetch("\(strata.url)/v2/library/multi/blobs/\(digest)").body == bytes)
        }
        // A second prefetch finds everything cached and fetches nothing.
        let again = try runCommand(binary, ["prefetch", "--admin", strata.adminURL, "library/small:1"])
        #expect(again.output.contains("0 B fetched"))
        // An image no tier has fails with exit status 1.
        let missing = try runCommand(binary, ["prefetch", "--admin", strata.adminURL, "library/nothing:1"])
        #expect(missing.status == 1)
        #expect(missing.output.contains("library/nothing:1: FAILED"))
    }

    /// `prefetch:` in the config keeps images warm in the background.
    @Test func configuredPrefetchWarmsTheCache() async throws {
        let registry = DistributionRegistry()
        try await registry.start()
        let images = try TestImages.make(bigLayer: 1 << 20)
        try await images.push(to: registry.url, only: ["library/small"])
        let (rounds, round) = AsyncStream.makeStream(of: Prefetcher.Summary.self)
        let strata = try await StrataInstance.start(canonical: registry.url, configure: { config in
            config.prefetchImages = ["library/small:1"]
            config.prefetchRefresh = 3600
        }, onPrefetchRound: { round.yield($0) })
        defer { Task { await strata.stop() } }
        var iterator = rounds.makeAsyncIterator()
        let first = try #require(await iterator.next())
        #expect(first.images == 1)
        #expect(first.blobs == images.small.blobs.count)
        registry.stop()
        let copy = try Skopeo.contents(try Skopeo.copy("\(strata.hostPort)/library/small:1"))
        for (digest, bytes) in images.small.blobs { #expect(copy[digest.hex].map(Array.init) == bytes) }
    }
}
