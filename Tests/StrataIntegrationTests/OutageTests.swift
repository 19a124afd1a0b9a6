import AsyncHTTPClient
import Foundation
import StrataCore
import StrataServer
import StrataTesting
import Testing

extension Integration {
    /// The outage story tiers exist for, end to end with a real registry: edge → central
    /// → registry, then the registry goes down. What the central holds keeps flowing to
    /// the edge however many of the edge's requests fail upstream, and what nobody holds
    /// fails fast with the whole chain in the message.
    @Suite struct Outage {
        @Test func anEdgeKeepsUsingAHealthyCentralWhileTheRegistryIsDown() async throws {
            let registry = DistributionRegistry()
            try await registry.start()
            defer { registry.stop() }
            let images = try TestImages.make(bigLayer: 1 << 20)
            try await images.push(to: registry.url, only: ["library/small", "library/docker-v2s2"])
            let central = try await StrataInstance.start(canonical: registry.url, configure: { config in
                config.breakerFailures = 2
            })
            defer { Task { await central.stop() } }
            let edge = try await StrataInstance.start(canonical: registry.url, configure: { config in
                config.tiers = [.init(name: "central", url: central.url)]
                config.breakerFailures = 2
                config.breakerCoolOff = 600
            })
            defer { Task { await edge.stop() } }

            // Before the outage: the edge pulls one image through the central; the central
            // alone holds the other (another edge pulled it).
            _ = try Skopeo.copy("\(edge.hostPort)/library/small:1")
            _ = try Skopeo.copy("\(central.hostPort)/library/docker-v2s2:1")

            registry.stop()

            // Content nobody holds: 503 at once, each time, with the chain in the message.
            let missing = "sha256:" + String(repeating: "7", count: 64)
            for attempt in 0..<5 {
                let start = ContinuousClock.now
                let answer = try await fetch("\(edge.url)/v2/library/small/blobs/\(missing)")
                #expect(answer.status == 503, "attempt \(attempt)")
                #expect(RegistryAPI.code(answer.body) == "UNAVAILABLE")
                let message = RegistryAPI.message(answer.body) ?? ""
                #expect(message.contains("mirror/central=upstream_failed(503)"), "attempt \(attempt): \(message)")
                #expect(message.contains("canonical="), "the central's own attempts are named: \(message)")
                #expect(ContinuousClock.now - start < .seconds(2), "attempt \(attempt) did not fail fast")
            }
            let uncachedTag = try await fetch("\(edge.url)/v2/library/never-pulled/manifests/1",
                                              headers: [("Accept", MediaType.ociManifest.value)])
            #expect(uncachedTag.status == 503)
            #expect(RegistryAPI.message(uncachedTag.body)?.contains("mirror/central=upstream_failed") == true)

            // The central answered every one of them: its breaker on the edge stays closed…
            let centralHealth = try #require(edge.server.engine.configuration.chains["docker.io"]?.tiers.first { $0.name == .mirror("central") }?.health)
            #expect(centralHealth.snapshot.breaker == "closed")
            #expect(centralHealth.snapshot.failures == 0)
            // …while the registry's opened on both.
            let edgeCanonical = try #require(edge.server.engine.configuration.chains["docker.io"]?.tiers.first { $0.name == .canonical }?.health)
            #expect(edgeCanonical.snapshot.breaker == "open")

            // What the central holds keeps flowing: manifest by tag and digest, and blobs.
            let accept = [("Accept", MediaType.dockerManifest.value)]
            let byTag = try await fetch("\(edge.url)/v2/library/docker-v2s2/manifests/1", headers: accept)
            #expect(byTag.status == 200 && byTag.body == images.docker.manifest)
            #expect(byTag.headers.first(name: "X-Strata-Path") == "mirror/central,local")
            for (digest, bytes) in images.docker.blobs {
                let blob = try await fetch("\(edge.url)/v2/library/docker-v2s2/blobs/\(digest)")
                #expect(blob.status == 200 && blob.body == bytes, "blob \(digest)")
                #expect(blob.headers.first(name: "X-Strata-Path") == "mirror/central,local")
            }
            // And a real client pulls it whole through the edge.
            let pulled = try Skopeo.contents(try Skopeo.copy("\(edge.hostPort)/library/docker-v2s2:1"))
            #expect(pulled["manifest.json"].map(Array.init) == images.docker.manifest)
            #expect(centralHealth.snapshot.breaker == "closed")
        }

        /// A tier that is not a Strata and answers 503 is down, as before: three 503s open
        /// its breaker and it is skipped.
        @Test func anotherTiersServerErrorsStillOpenTheBreaker() async throws {
            let (registry, images) = try await SharedUpstream.shared.get()
            let failing = FaultyRegistry(fault: .status(503, retryAfter: nil))
            try await failing.start()
            defer { failing.stop() }
            let edge = try await StrataInstance.start(canonical: registry.url, configure: { config in
                config.tiers = [.init(name: "flaky", url: failing.url)]
                config.breakerFailures = 2
                config.breakerCoolOff = 600
            })
            defer { Task { await edge.stop() } }
            for (digest, bytes) in images.small.blobs {
                let blob = try await fetch("\(edge.url)/v2/library/small/blobs/\(digest)")
                #expect(blob.status == 200 && blob.body == bytes)
            }
            let health = try #require(edge.server.engine.configuration.chains["docker.io"]?.tiers.first { $0.name == .mirror("flaky") }?.health)
            #expect(health.snapshot.breaker == "open")
        }
    }
}
