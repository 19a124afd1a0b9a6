import Foundation
import NIOCore
import StrataCore
import StrataStore
import StrataTesting
import Testing
@testable import StrataObjectStore

/// The bucket's bound and idle expiry, against a real Ceph RGW.
@Suite struct SharedJanitorTests {
    static func blob(_ store: S3ContentStore, _ bytes: [UInt8]) async throws -> Digest {
        let digest = ContentHasher.digest(of: bytes)
        let sink = try store.makeSink(for: digest)
        try sink.append(ByteBuffer(bytes: bytes))
        _ = try await store.commit(sink, digest: digest, expectedSize: nil)
        try await store.makeDurable(digest)
        sink.discard()
        return digest
    }

    @Test func overTheBoundTheLeastRecentlyUsedGo() async throws {
        let store = try await S3ContentStoreTests.store()
        let digests = [try await Self.blob(store, ImageFixture.randomBytes(100_000)),
                       try await Self.blob(store, ImageFixture.randomBytes(100_000)),
                       try await Self.blob(store, ImageFixture.randomBytes(100_000))]
        let now = Date()
        // Two replicas record hits on the first and the last; the middle one is the least recently used.
        store.recordAccess(digests[0], at: now.addingTimeInterval(10))
        try await SharedJanitor(store: store, replica: "a", maxSize: nil, maxIdle: nil).flush(now: now)
        store.recordAccess(digests[2], at: now.addingTimeInterval(20))
        let janitor = SharedJanitor(store: store, replica: "b", maxSize: 250_000, maxIdle: nil)
        try await janitor.flush(now: now)
        let report = try #require(try await janitor.run(now: now.addingTimeInterval(30)))
        #expect(report.blobs == 3 && report.removed == 1 && report.removedBytes == 100_000)
        #expect(await store.blob(digests[1]) == nil)
        #expect(await store.blob(digests[0]) != nil)
        #expect(await store.blob(digests[2]) != nil)
        // The hits were merged and kept: the next pass under the bound removes nothing.
        #expect(try await janitor.run(now: now.addingTimeInterval(40))?.removed == 0)
    }

    @Test func idleBlobsGoAndTheirTagsWithThem() async throws {
        let store = try await S3ContentStoreTests.store()
        let kept = try await Self.blob(store, ImageFixture.randomBytes(10_000))
        let idle = try await Self.blob(store, ImageFixture.randomBytes(10_000))
        let repo = try RepositoryName("library/idle")
        try await store.setTag(TagRecord(registry: "docker.io", repository: repo, tag: try Tag("old"), digest: idle,
                                         mediaType: MediaType.ociManifest.value, fetchedAt: Date(), tier: "canonical"))
        let now = Date()
        store.recordAccess(kept, at: now.addingTimeInterval(3600))
        let janitor = SharedJanitor(store: store, replica: "a", maxSize: nil, maxIdle: 1800)
        try await janitor.flush(now: now)
        let report = try #require(try await janitor.run(now: now.addingTimeInterval(3700)))
        #expect(report.idle == 1 && report.removed == 1)
        #expect(await store.blob(idle) == nil)
        #expect(await store.blob(kept) != nil)
        #expect(await store.tag(registry: "docker.io", repository: repo, tag: try Tag("old")) == nil)
    }

    @Test func oneJanitorAtATime() async throws {
        let store = try await S3ContentStoreTests.store()
        _ = try await Self.blob(store, ImageFixture.randomBytes(1000))
        let now = Date()
        let reports = try await withThrowingTaskGroup(of: SharedJanitor.Report?.self) { group in
            for name in ["a", "b", "c", "d"] {
                group.addTask { try await SharedJanitor(store: store, replica: name, maxSize: nil, maxIdle: nil).run(now: now) }
            }
            return try await group.reduce(into: [SharedJanitor.Report?]()) { $0.append($1) }
        }
        // At least one ran; those that found the lease held did nothing. None ran at the same time
        // as another (each that ran deleted the lease when done, so a later one may run again).
        let ran = reports.compactMap { $0 }.compactMap { report in report.started.flatMap { start in report.ended.map { (start, $0) } } }
        #expect(!ran.isEmpty)
        for (i, a) in ran.enumerated() {
            for b in ran[(i + 1)...] {
                #expect(a.1 <= b.0 || b.1 <= a.0, "two janitor passes overlapped")
            }
        }
        // A lease left by a janitor that died is taken over once it expired.
        try await store.client.put("\(store.prefix)janitor", ByteBuffer(bytes: try JSONEncoder().encode(
            S3ContentStore.Lease(owner: "dead", expires: now.timeIntervalSince1970 - 1))))
        #expect(try await SharedJanitor(store: store, replica: "e", maxSize: nil, maxIdle: nil).run(now: now) != nil)
        try await store.client.put("\(store.prefix)janitor", ByteBuffer(bytes: try JSONEncoder().encode(
            S3ContentStore.Lease(owner: "alive", expires: now.timeIntervalSince1970 + 60))))
        #expect(try await SharedJanitor(store: store, replica: "f", maxSize: nil, maxIdle: nil).run(now: now) == nil)
        // A lease claiming a life no janitor gives it (three years) does not switch eviction off.
        try await store.client.put("\(store.prefix)janitor", ByteBuffer(bytes: try JSONEncoder().encode(
            S3ContentStore.Lease(owner: "forever", expires: now.timeIntervalSince1970 + 3 * 365 * 86400))))
        #expect(try await SharedJanitor(store: store, replica: "g", maxSize: nil, maxIdle: nil).run(now: now) != nil)
    }

    /// A merged hits object too large to read does not stop eviction (the pass falls back
    /// to upload times), and the object written back holds only blobs still in the bucket.
    @Test func anOversizedHitsObjectFailsSafeAndHitsOfAbsentBlobsGo() async throws {
        let store = try await S3ContentStoreTests.store()
        let idle = try await Self.blob(store, ImageFixture.randomBytes(1000))
        let now = Date()
        let ghosts = (0..<100).map { ContentHasher.digest(of: [UInt8($0)]).description }
        let huge = try JSONEncoder().encode(Dictionary(uniqueKeysWithValues: ghosts.map { ($0, now.timeIntervalSince1970) }))
        try await store.client.put("\(store.prefix)access/merged", ByteBuffer(bytes: huge))
        let janitor = SharedJanitor(store: store, replica: "a", maxSize: nil, maxIdle: 60, maxMergedBytes: 1024)
        let report = try #require(try await janitor.run(now: now.addingTimeInterval(3600)))
        #expect(report.idle == 1 && report.removed == 1)
        #expect(await store.blob(idle) == nil)
        // Within the limit, hits of digests no longer in the bucket are not kept.
        let kept = try await Self.blob(store, ImageFixture.randomBytes(1000))
        store.recordAccess(kept, at: now)
        try await janitor.flush(now: now)
        try await store.client.put("\(store.prefix)access/ghosts", ByteBuffer(bytes: try JSONEncoder().encode(["\(ghosts[0])": now.timeIntervalSince1970])))
        _ = try #require(try await SharedJanitor(store: store, replica: "b", maxSize: nil, maxIdle: nil).run(now: now))
        let merged = try #require(try await store.client.get("\(store.prefix)access/merged"))
        let table = try JSONDecoder().decode([String: Double].self, from: Data(merged.bytes))
        #expect(Set(table.keys) == [kept.description], "\(table.keys)")
    }
}
