import AsyncHTTPClient
import Foundation
import StrataCore
import StrataTesting
import Testing

extension Integration {
    @Suite struct PullThrough {
        /// skopeo through Strata gets byte-identical manifests and blobs to skopeo straight
        /// from the registry, for every kind of image, and the registry sees one GET per blob.
        @Test func skopeoCopyIsByteIdenticalAndEachBlobIsFetchedOnce() async throws {
            let (registry, images) = try await SharedUpstream.shared.get()
            let strata = try await StrataInstance.start(canonical: registry.url)
            defer { Task { await strata.stop() } }
            // The registry is shared with other tests: count what this test adds.
            let earlier = (try await registry.settledBlobGets()).mapValues { $0.filter { $0.userAgent.hasPrefix("strata/") }.count }

            for (repository, image) in images.all {
                let direct = try Skopeo.contents(try Skopeo.copy("\(registry.hostPort)/\(repository):1"))
                let through = try Skopeo.contents(try Skopeo.copy("\(strata.hostPort)/\(repository):1"))
                #expect(through.keys.sorted() == direct.keys.sorted(), "\(repository): same files")
                #expect(through == direct, "\(repository): byte-identical")
                // The copy holds every blob of the image, verified against its digest.
                for digest in image.allBlobs.keys {
                    #expect(through[digest.hex] != nil, "\(repository): blob \(digest)")
                }
            }

            // Strata fetched each blob from the registry exactly once.
            let fromStrata = (try await registry.settledBlobGets())
                .map { ($0.key, Array($0.value.filter { $0.userAgent.hasPrefix("strata/") }.dropFirst(earlier[$0.key] ?? 0))) }
                .reduce(into: [String: [DistributionRegistry.LoggedRequest]]()) { $0[$1.0] = $1.1 }
                .filter { !$0.value.isEmpty }
            var sizes: [String: Int64] = [:]
            for (_, image) in images.all {
                for (digest, bytes) in image.allBlobs { sizes[digest.description] = Int64(bytes.count) }
            }
            #expect(Set(fromStrata.keys) == Set(sizes.keys))
            for (digest, gets) in fromStrata {
                let size = try #require(sizes[digest])
                if size < 64 << 20 {
                    #expect(gets.count == 1, "blob \(digest) fetched \(gets.count) times")
                    // Upstream bytes per cold blob: exactly the blob's size, once.
                    #expect(gets.first?.bytes == size, "blob \(digest) bytes")
                } else {
                    // A large blob comes in parallel ranges (limits.ranged_fill_connections):
                    // one fill, every byte once, plus what was in flight when the first
                    // answer was let go at the end of its part.
                    let bytes = gets.reduce(0) { $0 + $1.bytes }
                    #expect(gets.count <= 8 && bytes >= size && bytes < size + size / 4, "blob \(digest): \(gets.count) GETs, \(bytes) bytes")
                }
            }

            // A second pull within the TTL is served from the cache: no new upstream request.
            let before = (try await registry.settledRequests()).filter { $0.userAgent.hasPrefix("strata/") }.count
            for (repository, _) in images.all {
                _ = try Skopeo.copy("\(strata.hostPort)/\(repository):1")
            }
            let after = (try await registry.settledRequests()).filter { $0.userAgent.hasPrefix("strata/") }.count
            #expect(after == before, "warm pulls within the TTL sent \(after - before) upstream requests")
        }

        /// With the registry stopped, cached images still pull, and they survive a restart.
        @Test func cachedImagesPullWithUpstreamStoppedAndAfterRestart() async throws {
            let registry = DistributionRegistry()
            try await registry.start()
            let images = try TestImages.make(bigLayer: 1 << 20)
            try await images.push(to: registry.url, only: ["library/small", "library/multi", "library/docker-list"])
            let cache = makeTempDirectory("restart-cache")
            let strata = try await StrataInstance.start(canonical: registry.url, cacheDirectory: cache)
            var first: [String: [String: Data]] = [:]
            for repository in ["library/small", "library/multi", "library/docker-list"] {
                first[repository] = try Skopeo.contents(try Skopeo.copy("\(strata.hostPort)/\(repository):1"))
            }
            registry.stop()
            for repository in ["library/small", "library/multi", "library/docker-list"] {
                #expect(try Skopeo.contents(try Skopeo.copy("\(strata.hostPort)/\(repository):1")) == first[repository])
            }
            await strata.stop()

            // A new process on the same cache directory, upstream still down.
            let restarted = try await StrataInstance.start(canonical: registry.url, cacheDirectory: cache)
            defer { Task { await restarted.stop() } }
            for repository in ["library/small", "library/multi", "library/docker-list"] {
                #expect(try Skopeo.contents(try Skopeo.copy("\(restarted.hostPort)/\(repository):1")) == first[repository])
            }
            let tags = try await fetch("\(restarted.url)/v2/library/small/tags/list")
            #expect(String(decoding: tags.body, as: UTF8.self) == #"{"name":"library/small","tags":["1"]}"#)
        }

        /// The Bearer challenge flow against a registry behind a Docker-Hub-style token
        /// server, with the token cached per scope.
        @Test func pullsThroughATokenAuthRegistry() async throws {
            let tokens = TokenServer(users: ["pusher": "secret"])
            try await tokens.start()
            defer { tokens.stop() }
            let registry = DistributionRegistry(mode: tokens.registryMode)
            try await registry.start()
            defer { registry.stop() }
            let images = try TestImages.make(bigLayer: 1 << 20)
            // Push with a token obtained by logging in, as docker push would.
            let token = try await tokens.token(user: "pusher", password: "secret", scope: "repository:library/small:pull,push")
            try await RegistryPusher(baseURL: registry.url, authorization: "Bearer \(token)").push(images.small, repository: "library/small", tags: ["1"])

            // Anonymous access to the registry is refused...
            #expect(try await fetch("\(registry.url)/v2/library/small/manifests/1").status == 401)

            let strata = try await StrataInstance.start(canonical: registry.url)
            defer { Task { await strata.stop() } }
            let before = tokens.tokenRequests
            let through = try Skopeo.contents(try Skopeo.copy("\(strata.hostPort)/library/small:1"))
            #expect(through["manifest.json"].map { Array($0) } == images.small.manifest)
            for (digest, bytes) in images.small.blobs {
                #expect(through[digest.hex].map { Array($0) } == bytes)
            }
            // One token for the repository's pull scope, reused for the manifest and every blob.
            #expect(tokens.tokenRequests - before == 1)
        }

        /// 32 clients asking at once for one cold blob make exactly one upstream GET,
        /// and all 32 get the whole blob.
        @Test func concurrentColdRequestsShareOneUpstreamGet() async throws {
            let registry = DistributionRegistry()
            try await registry.start()
            defer { registry.stop() }
            let image = try ImageFixture.image(layers: [.random(20 << 20)], label: "concurrent")
            try await RegistryPusher(baseURL: registry.url).push(image, repository: "library/concurrent", tags: ["1"])
            let layer = try #require(image.blobs.first { $0.value.count > 1 << 20 })
            let strata = try await StrataInstance.start(canonical: registry.url)
            defer { Task { await strata.stop() } }

            let url = "\(strata.url)/v2/library/concurrent/blobs/\(layer.key)"
            let bodies = try await withThrowingTaskGroup(of: [UInt8].self) { group in
                for _ in 0..<32 { group.addTask { try await fetch(url).body } }
                return try await group.reduce(into: [[UInt8]]()) { $0.append($1) }
            }
            #expect(bodies.count == 32)
            #expect(bodies.allSatisfy { $0 == layer.value })
            let gets = (try await registry.settledBlobGets())[layer.key.description] ?? []
            #expect(gets.count == 1, "upstream saw \(gets.count) GETs")
        }

        /// A fill keeps going when the client that started it goes away.
        @Test func fillOutlivesItsFirstClient() async throws {
            let (registry, images) = try await SharedUpstream.shared.get()
            let strata = try await StrataInstance.start(canonical: registry.url)
            defer { Task { await strata.stop() } }
            let layer = try #require(images.big.blobs.first { $0.value.count > 50 << 20 })
            // Bytes the registry sent for the layer: a fill that restarted would send them twice.
            func upstreamBytes() async throws -> Int64 {
                ((try await registry.settledBlobGets())[layer.key.description] ?? []).reduce(0) { $0 + $1.bytes }
            }
            let before = try await upstreamBytes()

            // Read one chunk, then walk away.
            let reader = Task {
                let response = try await HTTPClient.shared.execute(
                    HTTPClientRequest(url: "\(strata.url)/v2/library/big/blobs/\(layer.key)"), timeout: .seconds(60))
                var iterator = response.body.makeAsyncIterator()
                return try await iterator.next()?.readableBytes ?? 0
            }
            #expect(try await reader.value > 0)
            reader.cancel()

            // A later client joins the same fill (or finds the blob cached) and gets it
            // whole; upstream sent the layer once, so the fill was not restarted.
            let second = try await fetch("\(strata.url)/v2/library/big/blobs/\(layer.key)")
            #expect(second.body == layer.value)
            let third = try await fetch("\(strata.url)/v2/library/big/blobs/\(layer.key)")
            #expect(third.headers.first(name: "X-Strata-Tier") == "local")
            #expect(third.body == layer.value)
            let sent = try await upstreamBytes() - before
            let size = Int64(layer.value.count)
            #expect(sent >= size && sent < size + size / 4, "\(sent) bytes for a layer of \(size)")
        }
    }
}
