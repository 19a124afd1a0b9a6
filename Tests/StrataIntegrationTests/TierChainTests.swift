import AsyncHTTPClient
import Foundation
import StrataCore
import StrataServer
import StrataTesting
import Testing

extension Integration {
    /// The ordered tiers, with real registries: tier 1 lacks the images, tier 2 is a
    /// distribution pull-through cache in front of the canonical registry, and the
    /// canonical registry sits behind a Docker-Hub-style token server.
    @Suite struct TierChain {
        @Test func tiersFallThroughBreakAndServeStale() async throws {
            let tokens = TokenServer(users: ["pusher": "secret"])
            try await tokens.start()
            defer { tokens.stop() }
            let canonical = DistributionRegistry(mode: tokens.registryMode)
            try await canonical.start()
            defer { canonical.stop() }
            let tier1 = DistributionRegistry()
            try await tier1.start()
            defer { tier1.stop() }
            let tier2 = DistributionRegistry(mode: .proxy(remoteURL: canonical.url))
            try await tier2.start()
            defer { tier2.stop() }

            let images = try TestImages.make(bigLayer: 1 << 20)
            for (repository, image) in [("library/small", images.small), ("library/multi", images.multi), ("library/docker-v2s2", images.docker)] {
                let token = try await tokens.token(user: "pusher", password: "secret", scope: "repository:\(repository):pull,push")
                try await RegistryPusher(baseURL: canonical.url, authorization: "Bearer \(token)").push(image, repository: repository, tags: ["1"])
            }

            let clock = TestClock()
            let strata = try await StrataInstance.start(canonical: canonical.url, tagTTL: 600, configure: { config in
                config.tiers = [
                    .init(name: "tier1", url: tier1.url),
                    .init(name: "tier2", url: tier2.url),
                ]
                config.breakerFailures = 2
                config.breakerCoolOff = 60
            }, now: clock.closure)
            defer { Task { await strata.stop() } }

            // 1. Tier 1 lacks the image (404), tier 2 serves it.
            let small = try Skopeo.contents(try Skopeo.copy("\(strata.hostPort)/library/small:1"))
            #expect(small["manifest.json"].map(Array.init) == images.small.manifest)
            let manifest = try await fetch("\(strata.url)/v2/library/small/manifests/1?x=1", headers: [("Accept", MediaType.ociManifest.value)])
            #expect(manifest.headers.first(name: "X-Strata-Tier") == "local")
            #expect((try await tier1.settledRequests()).contains { $0.method == "HEAD" && $0.path.hasPrefix("/v2/library/small/manifests/1") && $0.status == 404 })
            #expect((try await tier1.settledRequests()).allSatisfy { $0.status == 404 || $0.path == "/v2/" })
            let tier2Blobs = (try await tier2.settledBlobGets())
            for digest in images.small.blobs.keys {
                #expect(tier2Blobs[digest.description]?.count == 1, "tier 2 served blob \(digest)")
            }
            // Strata itself never went to the canonical registry: only tier 2 (distribution's own client) did.
            #expect(!(try await canonical.settledRequests()).contains { $0.userAgent.hasPrefix("strata/") })
            let head = try await fetch("\(strata.url)/v2/library/multi/manifests/1", method: .HEAD,
                                       headers: [("Accept", MediaType.ociIndex.value)])
            #expect(head.headers.first(name: "X-Strata-Tier") == "mirror/tier2")
            // Every upstream request carried Strata's Via.
            #expect(strata.server.instanceID.count == 12)

            // 2. Within the TTL a pull by tag sends nothing upstream; after it, one HEAD per tag.
            func strataRequests() async throws -> [[DistributionRegistry.LoggedRequest]] {
                [try await tier1.settledRequests(), try await tier2.settledRequests()].map { $0.filter { $0.userAgent.hasPrefix("strata/") } }
            }
            let before = try await strataRequests().map(\.count)
            _ = try Skopeo.copy("\(strata.hostPort)/library/small:1")
            #expect(try await strataRequests().map(\.count) == before)
            clock.advance(by: 601)
            _ = try Skopeo.copy("\(strata.hostPort)/library/small:1")
            let after = try await strataRequests()
            let revalidation = Array(after[0].dropFirst(before[0])) + Array(after[1].dropFirst(before[1]))
            #expect(revalidation.allSatisfy { $0.method == "HEAD" && $0.path.hasPrefix("/v2/library/small/manifests/1") })
            #expect(revalidation.count == 2, "\(revalidation)")
            #expect(revalidation.filter { $0.status == 200 }.count == 1, "\(revalidation)")

            // 3. Tier 2 stops: the breaker opens after 2 failures, and pulls move on to the
            //    canonical registry, each costing no more than a refused connection.
            tier2.stop()
            // Each request is for content not cached yet, so it must go upstream.
            let dockerBlobs = images.docker.allBlobs.keys.sorted()
            let uncachedPaths = ["/v2/library/docker-v2s2/manifests/\(images.docker.digest)"] + dockerBlobs.map { "/v2/library/docker-v2s2/blobs/\($0)" }
            for (attempt, path) in uncachedPaths.enumerated() {
                let start = ContinuousClock.now
                let answer = try await fetch(strata.url + path, headers: [("Accept", MediaType.dockerManifest.value)])
                #expect(answer.status == 200, "attempt \(attempt)")
                #expect(answer.headers.first(name: "X-Strata-Tier") == "canonical", "attempt \(attempt)")
                // A refused connection costs far less than the 2 s connect timeout.
                #expect(ContinuousClock.now - start < .seconds(2), "attempt \(attempt) took longer than the connect timeout")
            }
            let tier2Health = try #require(strata.server.engine.configuration.chains["docker.io"]?.tiers.first { $0.name == TierName.mirror("tier2") }?.health)
            #expect(tier2Health.snapshot.breaker == "open")
            #expect(tier2Health.snapshot.lastError != nil)
            #expect(tier2Health.snapshot.failures == 2, "open after 2 failures, then skipped")

            // 4. Every tier down: the cached tag is served stale; uncached content is 503, not 404.
            tier1.stop()
            canonical.stop()
            clock.advance(by: 601)
            let stale = try await fetch("\(strata.url)/v2/library/small/manifests/1", headers: [("Accept", MediaType.ociManifest.value)])
            #expect(stale.status == 200)
            #expect(stale.body == images.small.manifest)
            #expect(stale.headers.first(name: "X-Strata-Tier") == "stale")
            #expect(stale.headers.first(name: "Warning")?.hasPrefix("110 ") == true)
            let uncached = try await fetch("\(strata.url)/v2/library/never-pulled/manifests/1")
            #expect(uncached.status == 503)
            #expect(RegistryAPI.code(uncached.body) == "UNAVAILABLE")
            let uncachedBlob = try await fetch("\(strata.url)/v2/library/never-pulled/blobs/sha256:\(String(repeating: "1", count: 64))")
            #expect(uncachedBlob.status == 503)
        }

        @Test func cacheOnlyModeNeverCallsATier() async throws {
            let (registry, images) = try await SharedUpstream.shared.get()
            let cache = makeTempDirectory("cache-only")
            let warm = try await StrataInstance.start(canonical: registry.url, cacheDirectory: cache)
            let first = try Skopeo.contents(try Skopeo.copy("\(warm.hostPort)/library/small:1"))
            await warm.stop()

            let before = (try await registry.settledRequests()).filter { $0.userAgent.hasPrefix("strata/") }.count
            let strata = try await StrataInstance.start(canonical: registry.url, cacheDirectory: cache, configure: { $0.cacheOnly = true })
            defer { Task { await strata.stop() } }
            #expect(try Skopeo.contents(try Skopeo.copy("\(strata.hostPort)/library/small:1")) == first)
            let miss = try await fetch("\(strata.url)/v2/library/multi/manifests/1")
            #expect(miss.status == 404)
            #expect(RegistryAPI.code(miss.body) == "MANIFEST_UNKNOWN")
            #expect(String(decoding: miss.body, as: UTF8.self).contains("cache-only mode"))
            let blobMiss = try await fetch("\(strata.url)/v2/library/multi/blobs/\(images.multi.children[0].blobs.keys.sorted()[0])")
            #expect(blobMiss.status == 404)
            #expect(String(decoding: blobMiss.body, as: UTF8.self).contains("cache-only mode"))
            #expect((try await registry.settledRequests()).filter { $0.userAgent.hasPrefix("strata/") }.count == before)
            // And it says so: the tiers API, strata status and the dashboard.
            let tiers = String(decoding: try await fetch("\(strata.adminURL)/api/tiers").body, as: UTF8.self)
            #expect(tiers.contains(#""mode":"cache-only""#) && tiers.contains(#""breaker":"off (cache-only)""#) && !tiers.contains(#""breaker":"closed""#))
            let binary = try #require(Integration.CommandLine.binary)
            let status = try runCommand(binary, ["status", "--admin", strata.adminURL])
            #expect(status.output.contains("Mode: cache-only: serves what is cached, never contacts a tier\n"))
            #expect(status.output.contains("off (cache-only)"))
            let dashboard = String(decoding: try await fetch("\(strata.adminURL)/").body, as: UTF8.self)
            #expect(dashboard.contains("Mode: <b>cache-only</b>"))
        }

        /// A short negative cache: a storm of misses reaches upstream once.
        @Test func missesAreRememberedBriefly() async throws {
            let registry = DistributionRegistry()
            try await registry.start()
            defer { registry.stop() }
            let clock = TestClock()
            let strata = try await StrataInstance.start(canonical: registry.url, now: clock.closure)
            defer { Task { await strata.stop() } }
            for _ in 0..<5 {
                #expect(try await fetch("\(strata.url)/v2/library/nothing/manifests/1").status == 404)
            }
            func heads() async throws -> Int { (try await registry.settledRequests()).filter { $0.path.hasPrefix("/v2/library/nothing/manifests/1") }.count }
            #expect(try await heads() == 1)
            clock.advance(by: 31)
            #expect(try await fetch("\(strata.url)/v2/library/nothing/manifests/1").status == 404)
            #expect(try await heads() == 2)
        }

        /// containerd's `?ns=` and a configured path prefix select the registry; cached
        /// content is keyed by registry.
        @Test func namespacesSelectTheCanonicalRegistry() async throws {
            let hub = DistributionRegistry()
            let ghcr = DistributionRegistry()
            try await hub.start()
            try await ghcr.start()
            defer { hub.stop(); ghcr.stop() }
            let hubImage = try ImageFixture.image(layers: [.random(10_000)], label: "hub")
            let ghcrImage = try ImageFixture.image(layers: [.random(10_000)], label: "ghcr")
            try await RegistryPusher(baseURL: hub.url).push(hubImage, repository: "library/same", tags: ["1"])
            try await RegistryPusher(baseURL: ghcr.url).push(ghcrImage, repository: "library/same", tags: ["1"])
            let strata = try await StrataInstance.start(canonical: hub.url, configure: { config in
                config.canonical["ghcr.io"] = ghcr.url
                config.prefixes = ["ghcr": "ghcr.io"]
            })
            defer { Task { await strata.stop() } }
            let accept = [("Accept", MediaType.ociManifest.value)]
            let fromHub = try await fetch("\(strata.url)/v2/library/same/manifests/1", headers: accept)
            #expect(fromHub.body == hubImage.manifest)
            let fromGhcr = try await fetch("\(strata.url)/v2/library/same/manifests/1?ns=ghcr.io", headers: accept)
            #expect(fromGhcr.body == ghcrImage.manifest)
            #expect(fromGhcr.headers.first(name: "OCI-Namespace") == "ghcr.io")
            let prefixed = try await fetch("\(strata.url)/v2/ghcr/library/same/manifests/1", headers: accept)
            #expect(prefixed.body == ghcrImage.manifest)
            #expect(prefixed.headers.first(name: "X-Strata-Tier") == "local")
            let hubAgain = try await fetch("\(strata.url)/v2/library/same/manifests/1?ns=docker.io", headers: accept)
            #expect(hubAgain.body == hubImage.manifest)
            #expect(hubAgain.headers.first(name: "X-Strata-Tier") == "local")
            // skopeo through the prefix, as podman with `location = "host/ghcr"` would.
            let copied = try Skopeo.contents(try Skopeo.copy("\(strata.hostPort)/ghcr/library/same:1"))
            #expect(copied["manifest.json"].map(Array.init) == ghcrImage.manifest)
            let unknown = try await fetch("\(strata.url)/v2/library/same/manifests/1?ns=quay.io")
            #expect(unknown.status == 404)
        }

        /// An edge Strata in front of a central Strata: the path is visible end to end,
        /// and a configured loop is refused rather than followed.
        @Test func chainedStrataShowThePathAndRefuseLoops() async throws {
            let (registry, images) = try await SharedUpstream.shared.get()
            let central = try await StrataInstance.start(canonical: registry.url)
            defer { Task { await central.stop() } }
            let edge = try await StrataInstance.start(canonical: "http://127.0.0.1:9", configure: { config in
                config.tiers = [.init(name: "central", url: central.url)]
            })
            defer { Task { await edge.stop() } }
            let accept = [("Accept", MediaType.ociManifest.value)]
            let first = try await fetch("\(edge.url)/v2/library/small/manifests/1", headers: accept)
            #expect(first.body == images.small.manifest)
            #expect(first.headers.first(name: "X-Strata-Tier") == "mirror/central")
            #expect(first.headers.first(name: "X-Strata-Path") == "mirror/central,canonical")
            let layer = images.small.blobs.keys.sorted()[0]
            let blob = try await fetch("\(edge.url)/v2/library/small/blobs/\(layer)")
            #expect(blob.body == images.small.blobs[layer])
            #expect(blob.headers.first(name: "X-Strata-Path") == "mirror/central,canonical")

            // A second edge: central now answers from its cache.
            let edge2 = try await StrataInstance.start(canonical: "http://127.0.0.1:9", configure: { config in
                config.tiers = [.init(name: "central", url: central.url)]
            })
            defer { Task { await edge2.stop() } }
            let second = try await fetch("\(edge2.url)/v2/library/small/blobs/\(layer)")
            #expect(second.headers.first(name: "X-Strata-Path") == "mirror/central,local")
            // The central's ledger says which edge asked (both come from 127.0.0.1).
            struct Requests: Decodable { struct R: Decodable { let path: String; let client: String; let via: String? }; let requests: [R] }
            let centralLedger = try JSONDecoder().decode(Requests.self, from: Data(try await fetch("\(central.adminURL)/api/requests").body)).requests
            let askers = Set(centralLedger.filter { $0.path.contains("/blobs/\(layer)") }.compactMap(\.via))
            #expect(askers == ["strata-\(edge.server.instanceID)", "strata-\(edge2.server.instanceID)"], "\(askers)")
            let binary = try #require(Integration.CommandLine.binary)
            let lines = try runCommand(binary, ["requests", "--admin", central.adminURL]).output
            #expect(lines.contains("127.0.0.1 (via strata-\(edge2.server.instanceID))  GET /v2/library/small/blobs/\(layer)"), "\(lines)")

            // A request that already passed through a Strata is refused by it.
            let looped = try await fetch("\(edge.url)/v2/library/small/manifests/1", headers: [("Via", "1.1 strata-\(edge.server.instanceID)")])
            #expect(looped.status == 508)
            #expect(RegistryAPI.code(looped.body) == "LOOP_DETECTED")

            // Two Strata configured as each other's tier: the loop is refused and the
            // request still completes through the canonical registry.
            let aPort = FreePort.next(), bPort = FreePort.next()
            let a = try await StrataInstance.start(canonical: registry.url, configure: { config in
                config.listen = "127.0.0.1:\(aPort)"
                config.tiers = [.init(name: "b", url: "http://127.0.0.1:\(bPort)")]
            })
            defer { Task { await a.stop() } }
            let b = try await StrataInstance.start(canonical: registry.url, configure: { config in
                config.listen = "127.0.0.1:\(bPort)"
                config.tiers = [.init(name: "a", url: "http://127.0.0.1:\(aPort)")]
            })
            defer { Task { await b.stop() } }
            let viaLoop = try await fetch("\(a.url)/v2/library/multi/manifests/1", headers: [("Accept", MediaType.ociIndex.value)])
            #expect(viaLoop.status == 200)
            #expect(viaLoop.body == images.multi.manifest)
            // a asked b, b asked a (refused: 508), b fell through to canonical.
            #expect(viaLoop.headers.first(name: "X-Strata-Path") == "mirror/b,canonical")
        }

        /// A tier that dies mid-body: the fill resumes on the next tier with Range, and
        /// the client sees one unbroken body.
        @Test func fillResumesOnTheNextTierAfterADeathMidBody() async throws {
            let registry = DistributionRegistry()
            try await registry.start()
            defer { registry.stop() }
            let image = try ImageFixture.image(layers: [.random(4 << 20)], label: "resume")
            try await RegistryPusher(baseURL: registry.url).push(image, repository: "library/resume", tags: ["1"])
            let (digest, bytes) = try #require(image.blobs.first { $0.value.count > 1 << 20 })
            let dying = FaultyRegistry(blobs: [digest: bytes], fault: .truncate(after: 1 << 20))
            try await dying.start()
            defer { dying.stop() }
            let strata = try await StrataInstance.start(canonical: registry.url, configure: { config in
                config.tiers = [.init(name: "dying", url: dying.url)]
            })
            defer { Task { await strata.stop() } }
            let answer = try await fetch("\(strata.url)/v2/library/resume/blobs/\(digest)")
            #expect(answer.status == 200)
            #expect(answer.body == bytes)
            #expect(answer.headers.first(name: "X-Strata-Tier") == "mirror/dying")
            // The canonical registry sent only the rest of the blob.
            let gets = (try await registry.settledBlobGets())[digest.description] ?? []
            #expect(gets.count == 1)
            // Strata resumed where the dying tier stopped (what it wrote before dying
            // is up to the kernel's buffers, so only the bounds are known).
            #expect(gets.first?.status == 206)
            #expect((gets.first?.bytes ?? 0) >= Int64(bytes.count - (1 << 20)))
            #expect((gets.first?.bytes ?? .max) < Int64(bytes.count))
            let cached = try await fetch("\(strata.url)/v2/library/resume/blobs/\(digest)")
            #expect(cached.headers.first(name: "X-Strata-Tier") == "local")
            #expect(cached.body == bytes)
        }
    }
}

extension Integration.TierChain {
    /// A tier that answers 429 is passed over and then skipped for its `Retry-After`.
    @Test func rateLimitedTierIsSkippedForItsRetryAfter() async throws {
        let (registry, images) = try await SharedUpstream.shared.get()
        let limited = FaultyRegistry(blobs: [:], fault: .status(429, retryAfter: "120"))
        try await limited.start()
        defer { limited.stop() }
        let baseline = limited.requestCount   // its own readiness check
        let clock = TestClock()
        let strata = try await StrataInstance.start(canonical: registry.url, configure: { config in
            config.tiers = [.init(name: "limited", url: limited.url)]
        }, now: clock.closure)
        defer { Task { await strata.stop() } }
        let accept = [("Accept", MediaType.ociManifest.value)]
        let first = try await fetch("\(strata.url)/v2/library/small/manifests/1", headers: accept)
        #expect(first.status == 200)
        #expect(first.headers.first(name: "X-Strata-Tier") == "canonical")
        let asked = limited.requestCount
        #expect(asked > baseline)
        // Within the Retry-After the tier is not asked at all.
        let layer = images.small.blobs.keys.sorted()[0]
        let second = try await fetch("\(strata.url)/v2/library/small/blobs/\(layer)")
        #expect(second.status == 200)
        #expect(limited.requestCount == asked)
        struct Requests: Decodable { struct R: Decodable { struct A: Decodable { let tier: String; let outcome: String }; let attempts: [A]; let reference: String? }; let requests: [R] }
        let ledger = try JSONDecoder().decode(Requests.self, from: Data(try await fetch("\(strata.adminURL)/api/requests").body)).requests
        #expect(ledger.first { $0.reference == "1" }?.attempts.first?.outcome == "rate_limited")
        #expect(ledger.first { $0.reference == layer.description }?.attempts.map(\.outcome) == ["skipped", "ok"])
        // After it, the tier is probed again.
        clock.advance(by: 121)
        _ = try await fetch("\(strata.url)/v2/library/multi/manifests/1", headers: [("Accept", MediaType.ociIndex.value)])
        #expect(limited.requestCount > asked)
    }

    /// A tier limited to some registries is not asked for others.
    @Test func tiersServeOnlyTheirRegistries() async throws {
        let (registry, _) = try await SharedUpstream.shared.get()
        let ghcrOnly = FaultyRegistry(blobs: [:], fault: .none)
        try await ghcrOnly.start()
        defer { ghcrOnly.stop() }
        let baseline = ghcrOnly.requestCount   // its own readiness check
        let strata = try await StrataInstance.start(canonical: registry.url, configure: { config in
            config.tiers = [.init(name: "ghcr-cache", url: ghcrOnly.url, registries: ["ghcr.io"])]
            config.canonical["ghcr.io"] = registry.url
        })
        defer { Task { await strata.stop() } }
        let hub = try await fetch("\(strata.url)/v2/library/small/manifests/1", headers: [("Accept", MediaType.ociManifest.value)])
        #expect(hub.headers.first(name: "X-Strata-Tier") == "canonical")
        #expect(ghcrOnly.requestCount == baseline)
        let ghcr = try await fetch("\(strata.url)/v2/library/small/manifests/1?ns=ghcr.io", headers: [("Accept", MediaType.ociManifest.value)])
        #expect(ghcr.status == 200)
        #expect(ghcrOnly.requestCount > baseline)
    }
}
