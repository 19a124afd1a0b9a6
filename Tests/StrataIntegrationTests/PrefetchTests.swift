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

    /// `--file` names the images; a config blob is called a config, a large layer shows
    /// its progress while it comes, and the prefetch shows in the admin server's stats.
    @Test func prefetchFromAFileReportsConfigsProgressAndShowsInTheStats() async throws {
        let binary = try #require(Integration.CommandLine.binary)
        let registry = DistributionRegistry()
        try await registry.start()
        defer { registry.stop() }
        let images = try TestImages.make(bigLayer: 48 << 20)
        try await images.push(to: registry.url, only: ["library/small", "library/big"])
        let strata = try await StrataInstance.start(canonical: registry.url)
        defer { Task { await strata.stop() } }
        let list = makeTempDirectory("prefetch") + "/images.txt"
        try "# images for the build farm\nlibrary/small:1\n\nlibrary/big:1   # the large one\n".write(toFile: list, atomically: true, encoding: .utf8)

        let result = try runCommand(binary, ["prefetch", "--admin", strata.adminURL, "--file", list])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("prefetched 2 images (0 failed)"), "\(result.output)")
        let smallConfig = try #require(ManifestReferences(parsing: images.small.manifest).config)
        #expect(result.output.contains("docker.io/library/small:1: config \(String(smallConfig.digest.description.prefix(19)))"), "\(result.output)")
        #expect(result.output.contains("docker.io/library/small:1: layer 2 "), "two layers, the config not counted")
        #expect(!result.output.contains("docker.io/library/small:1: layer 3 "))
        // The 48 MiB layer reports its progress (every 16 MiB) before it is done.
        let progress = result.output.split(separator: "\n").filter { $0.hasPrefix("docker.io/library/big:1: layer 1 ") && $0.contains(" of 48.0 MiB") }
        #expect(!progress.isEmpty, "\(result.output)")

        // The prefetch is traffic of the cache: it shows in the ledger and the stats.
        let ledger = String(decoding: try await fetch("\(strata.adminURL)/api/requests?limit=100").body, as: UTF8.self)
        #expect(ledger.contains(#""client":"prefetch""#) && ledger.contains(#""tier":"canonical""#), "\(ledger)")
        let stats = String(decoding: try await fetch("\(strata.adminURL)/api/stats").body, as: UTF8.self)
        #expect(stats.contains("canonical"), "\(stats)")

        let unreadable = try runCommand(binary, ["prefetch", "--admin", strata.adminURL, "--file", list + ".none"])
        #expect(unreadable.status == 1 && unreadable.output == "strata: cannot read \(list).none: no such file\n", "\(unreadable.output)")
        let none = try runCommand(binary, ["prefetch", "--admin", strata.adminURL])
        #expect(none.status == 1 && none.output.contains("name at least one image"), "\(none.output)")
    }

    /// A prefetch larger than the cache bound warms nothing: it says so per image, and
    /// its summary counts what was evicted again.
    @Test func aPrefetchTheBoundEvictsAgainSaysSo() async throws {
        let binary = try #require(Integration.CommandLine.binary)
        let registry = DistributionRegistry()
        try await registry.start()
        defer { registry.stop() }
        let images = try TestImages.make(bigLayer: 8 << 20)
        try await images.push(to: registry.url, only: ["library/small", "library/big"])
        let strata = try await StrataInstance.start(canonical: registry.url, configure: { $0.maxSize = 4 << 20 })
        defer { Task { await strata.stop() } }
        let result = try runCommand(binary, ["prefetch", "--admin", strata.adminURL, "library/small:1", "library/big:1"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("docker.io/library/big:1: WARNING: the cache bound (cache.max_size) evicted "), "\(result.output)")
        #expect(result.output.contains("raise cache.max_size or prefetch less"))
        let summary = try #require(result.output.split(separator: "\n").last { $0.hasPrefix("prefetched 2 images") })
        #expect(summary.contains(" evicted again by the cache bound"), "\(summary)")
        // Within the bound, nothing is said.
        let roomy = try await StrataInstance.start(canonical: registry.url)
        defer { Task { await roomy.stop() } }
        let fine = try runCommand(binary, ["prefetch", "--admin", roomy.adminURL, "library/small:1", "library/big:1"])
        #expect(fine.status == 0 && !fine.output.contains("WARNING") && !fine.output.contains("evicted"), "\(fine.output)")
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
