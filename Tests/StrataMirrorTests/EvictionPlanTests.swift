import Foundation
import StrataCore
import StrataStore
import Testing
@testable import StrataMirror

@Suite struct EvictionPlanTests {
    let t0 = Date(timeIntervalSince1970: 1_000_000)

    func blob(_ name: String, size: Int64, accessed: TimeInterval) -> CacheIndex.BlobRow {
        CacheIndex.BlobRow(digest: ContentHasher.digest(of: Array(name.utf8)), size: size, storedSize: size, compressed: false,
                           mediaType: nil, lastAccess: t0.addingTimeInterval(accessed), hits: 1)
    }

    /// The plan as the janitor makes it: over an index holding `blobs`, read in the
    /// index's own order (the production query, not a sort of the test's).
    func plan(_ blobs: [CacheIndex.BlobRow], limits: EvictionPlan.Limits, protected: Set<Digest> = []) throws -> EvictionPlan {
        let index = try CacheIndex()
        for row in blobs {
            try index.recordBlob(StoredBlob(digest: row.digest, size: row.size, storedSize: row.storedSize, compressed: false),
                                 mediaType: nil, at: row.lastAccess)
        }
        return EvictionPlan(total: blobs.reduce(0) { $0 + $1.storedSize }, oldestFirst: EvictionCandidates(index: index, pageSize: 2),
                            limits: limits, protected: protected, now: t0)
    }

    @Test func leastRecentlyRequestedGoesFirstDownToTheLowWatermark() throws {
        let blobs = [blob("a", size: 40, accessed: 30), blob("b", size: 40, accessed: 10), blob("c", size: 40, accessed: 20)]
        // 120 bytes against a bound of 100: evict down to 90, oldest first.
        let plan = try self.plan(blobs, limits: .init(maxSize: 100, lowWatermark: 0.9))
        #expect(plan.victims.map(\.digest) == [blobs[1].digest])
        #expect(plan.bytes == 40)
        let tighter = try self.plan(blobs, limits: .init(maxSize: 100, lowWatermark: 0.5))
        #expect(tighter.victims.map(\.digest) == [blobs[1].digest, blobs[2].digest])
    }

    @Test func underTheBoundNothingGoes() throws {
        let blobs = [blob("a", size: 40, accessed: 0), blob("b", size: 40, accessed: 1)]
        #expect(try plan(blobs, limits: .init(maxSize: 80)).victims.isEmpty)
        #expect(try plan(blobs, limits: .init()).victims.isEmpty)
    }

    @Test func pinnedAndInUseBlobsAreNeverChosen() throws {
        let blobs = [blob("a", size: 50, accessed: 0), blob("b", size: 50, accessed: 1), blob("c", size: 50, accessed: 2)]
        let plan = try self.plan(blobs, limits: .init(maxSize: 60, lowWatermark: 1), protected: [blobs[0].digest, blobs[1].digest])
        #expect(plan.victims.map(\.digest) == [blobs[2].digest])
    }

    @Test func idleBlobsGoWhateverTheSize() throws {
        let blobs = [blob("old", size: 10, accessed: -31 * 86400), blob("new", size: 10, accessed: -86400)]
        let plan = try self.plan(blobs, limits: .init(maxIdle: 30 * 86400))
        #expect(plan.victims.map(\.digest) == [blobs[0].digest])
        #expect(plan.victims.map(\.reason) == [.idle])
    }

    /// Over a large cache the plan reads only as far as it goes: the idle blobs and
    /// those taken for size are the oldest, so it stops at the first blob it keeps.
    @Test func readsTheOldestOnlyAsFarAsItEvicts() throws {
        final class Counting: Sequence {
            let items: [EvictionCandidate]
            var pulled = 0
            init(_ items: [EvictionCandidate]) { self.items = items }
            func makeIterator() -> AnyIterator<EvictionCandidate> {
                var index = 0
                return AnyIterator { [self] in
                    guard index < items.count else { return nil }
                    defer { index += 1 }
                    pulled += 1
                    return items[index]
                }
            }
        }
        let blobs = (0..<10_000).map { blob("b\($0)", size: 10, accessed: TimeInterval($0)) }
        let oldest = Counting(blobs.map { EvictionCandidate(digest: $0.digest, storedSize: $0.storedSize, lastAccess: $0.lastAccess) })
        // 100,000 bytes against a bound of 99,990: down to 89,991, so 1,001 blobs go.
        let limits = EvictionPlan.Limits(maxSize: 99_990, lowWatermark: 0.9)
        let plan = EvictionPlan(total: 100_000, oldestFirst: oldest, limits: limits, protected: [blobs[0].digest], now: t0)
        #expect(plan.victims.count == 1_001)
        #expect(plan.victims.first?.digest == blobs[1].digest)
        #expect(oldest.pulled == 1_003)
        #expect(plan == (try self.plan(blobs.shuffled(), limits: limits, protected: [blobs[0].digest])))
    }
}

@Suite struct ImageReferenceTests {
    @Test func parsesWhatPeopleWrite() throws {
        let alpine = try #require(ImageReference(parsing: "alpine"))
        #expect(alpine.description == "docker.io/library/alpine:latest")
        #expect(ImageReference(parsing: "library/alpine:3.20")?.description == "docker.io/library/alpine:3.20")
        #expect(ImageReference(parsing: "ghcr.io/org/app:1")?.registry == "ghcr.io")
        #expect(ImageReference(parsing: "localhost:5000/app:1")?.registry == "localhost:5000")
        let digest = "sha256:" + String(repeating: "a", count: 64)
        #expect(ImageReference(parsing: "org/app@\(digest)")?.reference == .digest(try Digest(parsing: digest)))
        #expect(ImageReference(parsing: "Bad/Name") == nil)
        #expect(ImageReference(parsing: "app@sha256:zz") == nil)
    }
}
