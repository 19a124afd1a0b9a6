import Foundation
import HummingbirdBcrypt
import StrataCore
import StrataServer
import StrataTesting
import Testing

extension Integration {
    /// Replicas of a central mirror on one bucket of a real Ceph RGW (`store.s3`): what
    /// one replica fetched, another with an empty disk serves with upstream gone.
    @Suite struct SharedStore {
        static func replica(canonical: String, bucket: String, store: ObjectStoreFixture.Endpoint? = nil,
                            tagTTL: TimeInterval = 600, htpasswd: String? = nil, caFile: String? = nil,
                            now: @escaping @Sendable () -> Date = Date.init) async throws -> StrataInstance {
            let shared = try await ObjectStoreFixture.shared.endpoint()
            let endpoint = store ?? shared
            return try await StrataInstance.start(canonical: canonical, tagTTL: tagTTL, configure: { config in
                var store = StrataConfiguration.SharedStore(endpoint: endpoint.url, bucket: bucket)
                store.region = endpoint.region
                store.prefix = "central"
                store.accessKey = endpoint.accessKey
                store.secretKey = endpoint.secretKey
                config.sharedStore = store
                config.htpasswd = htpasswd
                config.sharedStore?.caFile = caFile
            }, now: now)
        }

        /// Until the replica's fills have ended, their write-back to the bucket included
        /// (a client has its last byte before the write-back starts).
        static func settle(_ replica: StrataInstance) async throws {
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                let metrics = String(decoding: try await fetch("\(replica.adminURL)/metrics").body, as: UTF8.self)
                if metrics.split(separator: "\n").contains("strata_fills_in_flight 0") || metrics.split(separator: "\n").contains("strata_fills_in_flight 0.0") {
                    return
                }
                await Task.yield()
            }
            Issue.record("the replica's fills did not end")
        }

        @Test func aFreshReplicaServesFromTheSharedStoreWithUpstreamGone() async throws {
            let registry = DistributionRegistry()
            try await registry.start()
            defer { registry.stop() }
            let image = try ImageFixture.image(layers: [.random(700_000), .random(6 << 20)], label: "shared")
            try await RegistryPusher(baseURL: registry.url).push(image, repository: "library/shared", tags: ["1"])
            let bucket = ObjectStoreFixture.bucketName("replicas")

            let first = try await Self.replica(canonical: registry.url, bucket: bucket)
            defer { Task { await first.stop() } }
            try Skopeo.copy("\(first.hostPort)/library/shared:1")
            // Each blob came from upstream once, through the shared store.
            let gets = try await registry.settledBlobGets()
            for digest in image.blobs.keys { #expect(gets[digest.description]?.count == 1, "\(digest)") }
            let (layer, bytes) = try #require(image.blobs.first { $0.value.count > 1 << 20 })
            let again = try await fetch("\(first.url)/v2/library/shared/blobs/\(layer)")
            #expect(again.headers.first(name: "X-Strata-Tier") == "local")
            try await Self.settle(first)

            registry.stop()
            let second = try await Self.replica(canonical: registry.url, bucket: bucket)
            defer { Task { await second.stop() } }
            let fromShared = try await fetch("\(second.url)/v2/library/shared/blobs/\(layer)")
            #expect(fromShared.status == 200 && fromShared.body == bytes)
            #expect(fromShared.headers.first(name: "X-Strata-Tier") == "shared")
            // The whole image, tag included, with every upstream stopped (skopeo checks each digest).
            try Skopeo.copy("\(second.hostPort)/library/shared:1")
        }

        /// Two replicas asked for the same cold blob at the same moment make one upstream
        /// `GET` between them: one holds the blob's lease and fills, the other fetches it
        /// from that replica as it fills.
        @Test func twoReplicasRacingOneColdBlobMakeOneUpstreamGet() async throws {
            let blob = ImageFixture.randomBytes(4 << 20)
            let digest = ContentHasher.digest(of: blob)
            // A slow upstream (64 KiB every 20 ms: about 1.3 s), so that both replicas ask while the fill runs.
            let upstream = FaultyRegistry(blobs: [digest: blob], fault: .drip(bytes: 64 << 10, interval: .milliseconds(20)))
            try await upstream.start()
            defer { upstream.stop() }
            let bucket = ObjectStoreFixture.bucketName("race")
            let a = try await Self.replica(canonical: upstream.url, bucket: bucket)
            defer { Task { await a.stop() } }
            let b = try await Self.replica(canonical: upstream.url, bucket: bucket)
            defer { Task { await b.stop() } }
            let before = upstream.requestCount
            let bodies = try await withThrowingTaskGroup(of: [UInt8].self) { group in
                for replica in [a, b, a, b] {
                    group.addTask { try await fetch("\(replica.url)/v2/library/race/blobs/\(digest)").body }
                }
                return try await group.reduce(into: [[UInt8]]()) { $0.append($1) }
            }
            #expect(bodies.count == 4 && bodies.allSatisfy { $0 == blob })
            #expect(upstream.requestCount - before == 1)
        }

        /// A store on `https` with a private CA: trusted through `store.s3.ca_file`; without
        /// it the store counts as unavailable and the replica serves from upstream.
        @Test func anHTTPSStoreWithAPrivateCA() async throws {
            let tls = try Integration.TLSAndClientAuth.makeCertificates()
            let (store, stopStore) = try ObjectStoreFixture.startPrivate(tls: (tls.cert, tls.key))
            defer { stopStore() }
            let blob = ImageFixture.randomBytes(3 << 20)
            let digest = ContentHasher.digest(of: blob)
            let upstream = FaultyRegistry(blobs: [digest: blob], fault: .none)
            try await upstream.start()
            defer { upstream.stop() }
            let path = "/v2/library/tls/blobs/\(digest)"
            let trusting = try await Self.replica(canonical: upstream.url, bucket: "strata-tls", store: store, caFile: "\(tls.directory)/ca.crt")
            defer { Task { await trusting.stop() } }
            #expect(try await fetch(trusting.url + path).body == blob)
            try await Self.settle(trusting)
            upstream.stop()
            let fresh = try await Self.replica(canonical: upstream.url, bucket: "strata-tls", store: store, caFile: "\(tls.directory)/ca.crt")
            defer { Task { await fresh.stop() } }
            let fromShared = try await fetch(fresh.url + path)
            #expect(fromShared.body == blob && fromShared.headers.first(name: "X-Strata-Tier") == "shared")
            // Without the CA the store's certificate is refused: not ready for the shared store.
            let distrusting = try await Self.replica(canonical: upstream.url, bucket: "strata-tls", store: store)
            defer { Task { await distrusting.stop() } }
            // Each request fails over TLS (upstream is gone too), until the shared tier's breaker opens.
            var ready = ""
            for _ in 0..<10 where !ready.contains("shared store unavailable") {
                #expect(try await fetch(distrusting.url + path).status != 200)
                ready = String(decoding: try await fetch("\(distrusting.adminURL)/readyz").body, as: UTF8.self)
            }
            #expect(ready.contains("shared store unavailable"), "\(ready)")
        }

        /// Replicas whose registry ports require a login still fetch from each other (a
        /// token keyed from the bucket's secret), so the blob is fetched once; a client
        /// without a login, or with a forged token, gets 401.
        @Test func replicasBehindALoginStillFillOnce() async throws {
            let blob = ImageFixture.randomBytes(4 << 20)
            let digest = ContentHasher.digest(of: blob)
            let upstream = FaultyRegistry(blobs: [digest: blob], fault: .drip(bytes: 64 << 10, interval: .milliseconds(20)))
            try await upstream.start()
            defer { upstream.stop() }
            let dir = makeTempDirectory("htpasswd")
            try "builder:$2y$\(Bcrypt.hash("pw", cost: 4).dropFirst(4))\n".write(toFile: "\(dir)/htpasswd", atomically: true, encoding: .utf8)
            let login = [("Authorization", "Basic " + Data("builder:pw".utf8).base64EncodedString())]
            let bucket = ObjectStoreFixture.bucketName("login")
            let a = try await Self.replica(canonical: upstream.url, bucket: bucket, htpasswd: "\(dir)/htpasswd")
            defer { Task { await a.stop() } }
            let b = try await Self.replica(canonical: upstream.url, bucket: bucket, htpasswd: "\(dir)/htpasswd")
            defer { Task { await b.stop() } }
            let path = "/v2/library/login/blobs/\(digest)"
            let forged = "\(Int(Date().timeIntervalSince1970) + 60).\(String(repeating: "0", count: 64))"
            #expect(try await fetch(a.url + path).status == 401)
            #expect(try await fetch(a.url + path, headers: [("X-Strata-Peer", forged)]).status == 401)
            let before = upstream.requestCount
            let bodies = try await withThrowingTaskGroup(of: [UInt8].self) { group in
                for replica in [a, b, a, b] {
                    group.addTask { try await fetch("\(replica.url)\(path)", headers: login).body }
                }
                return try await group.reduce(into: [[UInt8]]()) { $0.append($1) }
            }
            #expect(bodies.count == 4 && bodies.allSatisfy { $0 == blob })
            #expect(upstream.requestCount - before == 1)
            // A peer token signs the whole request target: one replayed with a query added fails.
            let secret = try await ObjectStoreFixture.shared.endpoint().secretKey
            let token = PeerToken(secret: secret).make(path: path, now: Date())
            #expect(try await fetch(a.url + path, headers: [("X-Strata-Peer", token)]).status == 200)
            #expect(try await fetch(a.url + path + "?ns=docker.io", headers: [("X-Strata-Peer", token)]).status == 401)
        }

        /// A replica that dies while it holds a blob's lease does not hold the others up:
        /// the next replica finds it gone, takes the lease over and fills.
        @Test func aDeadLeaseHolderIsTakenOver() async throws {
            let blob = ImageFixture.randomBytes(4 << 20)
            let digest = ContentHasher.digest(of: blob)
            let upstream = FaultyRegistry(blobs: [digest: blob], fault: .drip(bytes: 64 << 10, interval: .milliseconds(20)))
            try await upstream.start()
            defer { upstream.stop() }
            let bucket = ObjectStoreFixture.bucketName("takeover")
            let a = try await Self.replica(canonical: upstream.url, bucket: bucket)
            let b = try await Self.replica(canonical: upstream.url, bucket: bucket)
            defer { Task { await b.stop() } }
            let before = upstream.requestCount
            let doomed = Task { try? await fetch("\(a.url)/v2/library/takeover/blobs/\(digest)") }
            // A has its lease and is filling once upstream was asked.
            try await eventually("the upstream was asked") { upstream.requestCount != before }
            await a.stop()
            doomed.cancel()
            let answer = try await fetch("\(b.url)/v2/library/takeover/blobs/\(digest)")
            #expect(answer.status == 200 && answer.body == blob)
            #expect(upstream.requestCount - before == 2)
        }

        /// The object store down: the replica serves what its disk holds, fills the rest
        /// from upstream directly, and says so in the ledger and on /readyz.
        @Test func withTheStoreDownAReplicaServesFromDiskAndUpstream() async throws {
            let registry = DistributionRegistry()
            try await registry.start()
            defer { registry.stop() }
            let image = try ImageFixture.image(layers: [.random(300_000)], label: "store-down")
            try await RegistryPusher(baseURL: registry.url).push(image, repository: "library/down", tags: ["1"])
            let other = try ImageFixture.image(layers: [.random(2 << 20)], label: "store-down-2")
            try await RegistryPusher(baseURL: registry.url).push(other, repository: "library/down2", tags: ["1"])
            let (store, stopStore) = try ObjectStoreFixture.startPrivate()
            var stopped = false
            defer { if !stopped { stopStore() } }
            let replica = try await Self.replica(canonical: registry.url, bucket: "strata-down", store: store)
            defer { Task { await replica.stop() } }
            try Skopeo.copy("\(replica.hostPort)/library/down:1")
            stopStore()
            stopped = true
            // What the disk holds, and a new image from upstream.
            try Skopeo.copy("\(replica.hostPort)/library/down:1")
            try Skopeo.copy("\(replica.hostPort)/library/down2:1")
            let (layer, bytes) = try #require(other.blobs.first { $0.value.count > 1 << 20 })
            let cached = try await fetch("\(replica.url)/v2/library/down2/blobs/\(layer)")
            #expect(cached.body == bytes && cached.headers.first(name: "X-Strata-Tier") == "local")
            struct Requests: Decodable {
                struct Attempt: Decodable { let tier: String; let outcome: String }
                struct R: Decodable { let reference: String?; let attempts: [Attempt]? }
                let requests: [R]
            }
            let ledger = try JSONDecoder().decode(Requests.self, from: Data(try await fetch("\(replica.adminURL)/api/requests").body)).requests
            let attempts = ledger.first { $0.reference == layer.description && $0.attempts?.isEmpty == false }?.attempts ?? []
            #expect(attempts.first?.tier == "shared" && attempts.first?.outcome == "transport")
            #expect(attempts.last?.tier == "canonical" && attempts.last?.outcome == "ok")
            let metrics = String(decoding: try await fetch("\(replica.adminURL)/metrics").body, as: UTF8.self)
            // Requests while it answered, and the failures after it was stopped (uploads may be either).
            #expect(metrics.contains(#"strata_shared_store_requests_total{method="GET",outcome="ok"}"#))
            #expect(metrics.contains(#"outcome="transport"}"#))
            #expect(metrics.contains(#"strata_shared_store_bytes_total{direction="sent"}"#))
            let ready = try await fetch("\(replica.adminURL)/readyz")
            #expect(ready.status == 200)
            #expect(String(decoding: ready.body, as: UTF8.self).contains("shared store unavailable"))
        }

        /// A tag one replica revalidated is fresh for the others: its record, with when
        /// it was learnt, lives in the shared store.
        @Test func aTagRevalidatedByOneReplicaIsFreshForAll() async throws {
            let registry = DistributionRegistry()
            try await registry.start()
            defer { registry.stop() }
            let image = try ImageFixture.image(layers: [.random(50_000)], label: "shared-tag")
            try await RegistryPusher(baseURL: registry.url).push(image, repository: "library/tagged", tags: ["1"])
            let clock = TestClock()
            let bucket = ObjectStoreFixture.bucketName("tags")
            let a = try await Self.replica(canonical: registry.url, bucket: bucket, tagTTL: 60, now: clock.closure)
            defer { Task { await a.stop() } }
            let b = try await Self.replica(canonical: registry.url, bucket: bucket, tagTTL: 60, now: clock.closure)
            defer { Task { await b.stop() } }
            let url = "/v2/library/tagged/manifests/1"
            let accept = [("Accept", MediaType.ociManifest.value)]
            #expect(try await fetch(a.url + url, headers: accept).status == 200)
            clock.advance(by: 120)
            // Past the TTL: A revalidates, once, with upstream.
            let heads = { try await registry.settledRequests().filter { $0.method == "HEAD" && $0.path.hasSuffix("/manifests/1") }.count }
            let before = try await heads()
            #expect(try await fetch(a.url + url, headers: accept).status == 200)
            #expect(try await heads() == before + 1)
            // B has never seen the tag; the shared record is fresh: no upstream request.
            let fromB = try await fetch(b.url + url, headers: accept)
            #expect(fromB.status == 200 && fromB.body == image.manifest)
            let log = try await registry.settledRequests().map { "\($0.method) \($0.path)" }
            #expect(try await heads() == before + 1, "\(log)")
        }
    }
}
