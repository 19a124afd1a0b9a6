import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import StrataCore
import StrataStore
import StrataTesting
import StrataUpstream
import Testing
@testable import StrataObjectStore

/// The fill leases in a real Ceph RGW bucket, as the replicas' first tier sees them.
@Suite struct PeerFillSourceTests {
    static func source(_ store: S3ContentStore, me: String) -> PeerFillSource {
        let source = PeerFillSource(store: store, http: TestHTTPClient.shared, instanceID: me, logger: Logger(label: "test"))
        source.advertise(me)
        return source
    }

    static func isFillHere(_ error: UpstreamError) -> Bool { error.kind == .notFound }

    @Test func theFirstReplicaFillsAndTheLeaseNamesIt() async throws {
        let store = try await S3ContentStoreTests.store()
        let digest = ContentHasher.digest(of: ImageFixture.randomBytes(100))
        let a = Self.source(store, me: "http://10.0.0.1:5000")
        let repository = try RepositoryName("library/lease")
        // A gets the lease: "not found here", so it walks on to the upstream tiers.
        let error = await #expect(throws: UpstreamError.self) { try await a.getBlob(repository, digest, from: 0, via: nil) }
        #expect(error.map(Self.isFillHere) == true)
        let held = try await store.acquireLease(digest, owner: "http://10.0.0.2:5000", seconds: 600, now: Date())
        #expect(held?.owner == "http://10.0.0.1:5000")
    }

    /// Anyone with the bucket's keys can write a lease: one naming the cloud metadata
    /// address, or a scheme other than http(s), is never fetched from but taken over.
    @Test(arguments: ["http://169.254.169.254/latest/meta-data", "file:///etc/passwd", "http://0.0.0.0:5000", "not a url"])
    func aLeaseNamingAnAddressNotToFetchFromIsTakenOver(_ owner: String) async throws {
        let store = try await S3ContentStoreTests.store()
        let digest = ContentHasher.digest(of: ImageFixture.randomBytes(100))
        #expect(try await store.acquireLease(digest, owner: owner, seconds: 600, now: Date()) == nil)
        let me = "http://127.0.0.1:1"
        let error = await #expect(throws: UpstreamError.self) {
            try await Self.source(store, me: me).getBlob(try RepositoryName("library/lease"), digest, from: 0, via: nil)
        }
        #expect(error?.kind == .notFound)
        #expect(error?.message.contains("a lease naming a replica not to fetch from") == true, "\(String(describing: error))")
        let now = try await store.acquireLease(digest, owner: "http://10.0.0.9:5000", seconds: 600, now: Date())
        #expect(now?.owner == me)
    }
}

extension PeerFillSourceTests {
    /// Finding 3: an owner with a path or query made the blob's path a query string, and
    /// another port's answer (a replica's /metrics) streamed as blob bytes. An owner is
    /// scheme, host and port only; anything else is taken over without a request.
    @Test(arguments: ["/?x=", "/metrics?", "/api/tiers#", "/some/path"])
    func aLeaseOwnerWithAPathOrQueryIsTakenOverWithoutARequest(_ suffix: String) async throws {
        let recorder = FaultyRegistry(fault: .none)
        try await recorder.start()
        defer { recorder.stop() }
        let store = try await S3ContentStoreTests.store()
        let digest = ContentHasher.digest(of: ImageFixture.randomBytes(100))
        #expect(try await store.acquireLease(digest, owner: recorder.url + suffix, seconds: 600, now: Date()) == nil)
        let error = await #expect(throws: UpstreamError.self) {
            try await Self.source(store, me: "http://127.0.0.1:1").getBlob(try RepositoryName("library/lease"), digest, from: 0, via: nil)
        }
        #expect(error?.kind == .notFound && error?.message.contains("scheme, host and port only") == true, "\(String(describing: error))")
        #expect(recorder.requestCount == 1, "only the start-up probe reached it")
    }

    /// Finding 4: a lease whose `expires` lies years ahead blocked the blob for ever. No
    /// lease outlives the lifetime a replica gives it: one that claims to is taken over.
    @Test func aLeaseThatClaimsToLiveTooLongIsTakenOver() async throws {
        let recorder = FaultyRegistry(fault: .none)
        try await recorder.start()
        defer { recorder.stop() }
        let store = try await S3ContentStoreTests.store()
        let digest = ContentHasher.digest(of: ImageFixture.randomBytes(100))
        let threeYears = 3 * 365 * 86400.0
        #expect(try await store.acquireLease(digest, owner: recorder.url, seconds: threeYears, now: Date()) == nil)
        let error = await #expect(throws: UpstreamError.self) {
            try await Self.source(store, me: "http://127.0.0.1:1").getBlob(try RepositoryName("library/lease"), digest, from: 0, via: nil)
        }
        #expect(error?.message.contains("past the lifetime") == true, "\(String(describing: error))")
        #expect(recorder.requestCount == 1)
        #expect(try await store.acquireLease(digest, owner: "http://10.0.0.9:5000", seconds: 600, now: Date())?.owner == "http://127.0.0.1:1")
    }

    /// Finding 5: a holder that drips its blob is abandoned at the rate watchdog, as any tier.
    @Test func aDrippingHolderIsAbandoned() async throws {
        let bytes = ImageFixture.randomBytes(4000)
        let digest = ContentHasher.digest(of: bytes)
        let drip = FaultyRegistry(blobs: [digest: bytes], fault: .drip(bytes: 10, interval: .milliseconds(50)))
        try await drip.start()
        defer { drip.stop() }
        let store = try await S3ContentStoreTests.store()
        #expect(try await store.acquireLease(digest, owner: drip.url, seconds: 600, now: Date()) == nil)
        let source = PeerFillSource(store: store, http: TestHTTPClient.shared, instanceID: "me", logger: Logger(label: "test"),
                                    minimumRate: StreamedReply.MinimumRate(bytesPerSecond: 10_000, window: .milliseconds(300)))
        source.advertise("http://127.0.0.1:1")
        let blob = try await source.getBlob(try RepositoryName("library/lease"), digest, from: 0, via: nil)
        let start = ContinuousClock.now
        let error = await #expect(throws: UpstreamError.self) { try await blob.body.stream(into: { _ in nil }) }
        #expect(error?.kind == .tooSlow, "\(String(describing: error))")
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    /// Finding 4: a holder whose bytes failed verification is passed over like a dead one.
    @Test func aHolderWhoseBytesFailedIsPassedOver() async throws {
        let bytes = ImageFixture.randomBytes(5000)
        let digest = ContentHasher.digest(of: bytes)
        let liar = FaultyRegistry(blobs: [digest: bytes], fault: .wrongBytes)
        try await liar.start()
        defer { liar.stop() }
        let store = try await S3ContentStoreTests.store()
        #expect(try await store.acquireLease(digest, owner: liar.url, seconds: 600, now: Date()) == nil)
        let source = Self.source(store, me: "http://127.0.0.1:1")
        let repository = try RepositoryName("library/lease")
        let first = try await source.getBlob(repository, digest, from: 0, via: nil)
        let got = NIOLockedValueBox<[UInt8]>([])
        try await first.body.stream(into: { buffer in got.withLockedValue { $0 += buffer.readableBytesView }; return nil })
        #expect(got.withLockedValue { $0.count == bytes.count && $0 != bytes }, "the liar's bytes")
        // The engine's commit found them wrong and said so.
        await source.deliveredBadBytes(digest)
        let error = await #expect(throws: UpstreamError.self) { try await source.getBlob(repository, digest, from: 0, via: nil) }
        #expect(error?.kind == .notFound && error?.message.contains("failed verification") == true, "\(String(describing: error))")
        #expect(try await store.acquireLease(digest, owner: "http://10.0.0.9:5000", seconds: 600, now: Date())?.owner == "http://127.0.0.1:1")
    }
}

/// A lease lives while its fill does: renewed while the replica's engine fills the blob
/// (until it is written back), then left to die, or released once the blob is written.
@Suite struct LeaseRenewalTests {
    final class Filling: @unchecked Sendable {
        var digests: Set<Digest> = []
        func callAsFunction(_ digest: Digest) -> Bool { digests.contains(digest) }
    }

    @Test func aLeaseIsRenewedWhileItsFillRunsAndNotAfter() async throws {
        let store = try await S3ContentStoreTests.store()
        let digest = ContentHasher.digest(of: ImageFixture.randomBytes(1000))
        let t0 = Date()
        let a = "http://10.0.0.1:5000", b = "http://10.0.0.2:5000"
        let filling = Filling()
        #expect(try await store.acquireLease(digest, owner: a, seconds: 600, now: t0) == nil)
        // Before the fill starts there is nothing to renew.
        #expect(await store.renewLeases(seconds: 600, now: t0.addingTimeInterval(100), isFilling: filling.callAsFunction) == 0)
        filling.digests.insert(digest)
        // 500 s in, the fill still runs: renewed until 1,100 s.
        #expect(await store.renewLeases(seconds: 600, now: t0.addingTimeInterval(500), isFilling: filling.callAsFunction) == 1)
        let seen = try #require(try await store.acquireLease(digest, owner: b, seconds: 600, now: t0.addingTimeInterval(700)))
        #expect(seen.owner == a && seen.expires == t0.timeIntervalSince1970 + 1100)
        // The fill fails: the lease is no longer renewed, and dies at 1,100 s.
        filling.digests.remove(digest)
        #expect(await store.renewLeases(seconds: 600, now: t0.addingTimeInterval(900), isFilling: filling.callAsFunction) == 0)
        filling.digests.insert(digest)
        #expect(await store.renewLeases(seconds: 600, now: t0.addingTimeInterval(950), isFilling: filling.callAsFunction) == 0)
        let dead = try #require(try await store.acquireLease(digest, owner: b, seconds: 600, now: t0.addingTimeInterval(1200)))
        #expect(dead.expires == t0.timeIntervalSince1970 + 1100)
        #expect(try await store.takeOverLease(digest, from: dead, owner: b, seconds: 600, now: t0.addingTimeInterval(1200)))
    }

    @Test func aLeaseTakenOverIsNoLongerRenewed() async throws {
        let store = try await S3ContentStoreTests.store()
        let digest = ContentHasher.digest(of: ImageFixture.randomBytes(1000))
        let t0 = Date()
        #expect(try await store.acquireLease(digest, owner: "http://10.0.0.1:5000", seconds: 10, now: t0) == nil)
        let other = try await S3ContentStoreTests.store(bucket: store.client.configuration.bucket)
        let held = try #require(try await other.acquireLease(digest, owner: "http://10.0.0.2:5000", seconds: 10, now: t0.addingTimeInterval(20)))
        #expect(try await other.takeOverLease(digest, from: held, owner: "http://10.0.0.2:5000", seconds: 600, now: t0.addingTimeInterval(20)))
        // The first replica's renewal finds the lease changed hands and lets it be.
        #expect(await store.renewLeases(seconds: 600, now: t0.addingTimeInterval(21), isFilling: { _ in true }) == 0)
        let now = try #require(try await other.acquireLease(digest, owner: "http://10.0.0.3:5000", seconds: 10, now: t0.addingTimeInterval(22)))
        #expect(now.owner == "http://10.0.0.2:5000")
    }
}

/// A blob a replica stored on its disk goes to the bucket from there: once, by the
/// replica holding its lease (or by anyone when no lease exists), never over a blob the
/// bucket has.
@Suite struct WriteBackTests {
    /// Verified bytes, as a replica's disk hands them to the write-back.
    static func content(_ bytes: [UInt8]) -> VerifiedContent {
        VerifiedContent(blob: StoredBlob(digest: ContentHasher.digest(of: bytes), size: Int64(bytes.count), storedSize: Int64(bytes.count),
                                         compressed: false), bytes: bytes)
    }

    @Test func theLeaseHolderWritesBackAndReleases() async throws {
        let store = try await S3ContentStoreTests.store()
        let bytes = ImageFixture.randomBytes(6 << 20)
        let digest = ContentHasher.digest(of: bytes)
        let content = WriteBackTests.content(bytes)
        let other = try await S3ContentStoreTests.store(bucket: store.client.configuration.bucket)
        #expect(try await store.acquireLease(digest, owner: "http://10.0.0.1:5000", seconds: 600, now: Date()) == nil)
        // Another replica that fetched the blob from the lease holder leaves it to the holder.
        #expect(try await other.writeBack(digest, from: content) == false)
        #expect(await other.blob(digest) == nil)
        #expect(try await store.writeBack(digest, from: content))
        let stored = try #require(await other.blob(digest))
        var read: [UInt8] = []
        try await stored.read(0, stored.blob.size) { read += Array($0.readableBytesView) }
        #expect(read == bytes)
        // Released: the next replica to miss would get the lease; nobody writes it again.
        #expect(try await other.writeBack(digest, from: content) == false)
        #expect(try await other.acquireLease(digest, owner: "http://10.0.0.2:5000", seconds: 600, now: Date()) == nil)
    }

    @Test func withoutALeaseAnyReplicaWritesBack() async throws {
        let store = try await S3ContentStoreTests.store()
        let bytes = ImageFixture.randomBytes(1000)
        let digest = ContentHasher.digest(of: bytes)
        let content = WriteBackTests.content(bytes)
        #expect(try await store.writeBack(digest, from: content))
        #expect(try await store.writeBack(digest, from: content) == false)
    }
}

extension PeerFillSourceTests {
    /// The shared tier found no blob, then its filler wrote it back and released the
    /// lease: the next replica to take the free lease gets the blob from the bucket
    /// instead of fetching it from upstream again.
    @Test func aLeaseFoundFreeAfterTheBlobArrivedServesTheBucketsCopy() async throws {
        let store = try await S3ContentStoreTests.store()
        let bytes = ImageFixture.randomBytes(300 << 10)
        let digest = ContentHasher.digest(of: bytes)
        let content = WriteBackTests.content(bytes)
        #expect(try await store.writeBack(digest, from: content))
        let source = Self.source(store, me: "http://10.0.0.1:5000")
        let blob = try await source.getBlob(try RepositoryName("library/late"), digest, from: 1000, via: nil)
        #expect(blob.totalSize == Int64(bytes.count) && blob.offset == 1000)
        let received = NIOLockedValueBox<[UInt8]>([])
        try await blob.body.stream { part in
            received.withLockedValue { $0 += Array(part.readableBytesView) }
            return nil
        }
        #expect(received.withLockedValue { $0 } == Array(bytes[1000...]))
        // The lease taken on the way was let go.
        #expect(try await store.acquireLease(digest, owner: "http://10.0.0.2:5000", seconds: 600, now: Date()) == nil)
    }
}
