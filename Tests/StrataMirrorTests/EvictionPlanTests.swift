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

    @Test func leastRecentlyRequestedGoesFirstDownToTheLowWatermark() {
        let blobs = [blob("a", size: 40, accessed: 30), blob("b", size: 40, accessed: 10), blob("c", size: 40, accessed: 20)]
        // 120 bytes against a bound of 100: evict down to 90, oldest first.
        let plan = EvictionPlan(blobs: blobs, limits: .init(maxSize: 100, lowWatermark: 0.9), protected: [], now: t0)
        #expect(plan.victims.map(\.digest) == [blobs[1].digest])
        #expect(plan.bytes == 40)
        let tighter = EvictionPlan(blobs: blobs, limits: .init(maxSize: 100, lowWatermark: 0.5), protected: [], now: t0)
        #expect(tighter.victims.map(\.digest) == [blobs[1].digest, blobs[2].digest])
    }

    @Test func underTheBoundNothingGoes() {
        let blobs = [blob("a", size: 40, accessed: 0), blob("b", size: 40, accessed: 1)]
        #expect(EvictionPlan(blobs: blobs, limits: .init(maxSize: 80), protected: [], now: t0).victims.isEmpty)
        #expect(EvictionPlan(blobs: blobs, limits: .init(), protected: [], now: t0).victims.isEmpty)
    }

    @Test func pinnedAndInUseBlobsAreNeverChosen() {
        let blobs = [blob("a", size: 50, accessed: 0), blob("b", size: 50, accessed: 1), blob("c", size: 50, accessed: 2)]
        let plan = EvictionPlan(blobs: blobs, limits: .init(maxSize: 60, lowWatermark: 1), protected: [blobs[0].digest, blobs[1].digest], now: t0)
        #expect(plan.victims.map(\.digest) == [blobs[2].digest])
    }

    @Test func idleBlobsGoWhateverTheSize() {
        let blobs = [blob("old", size: 10, accessed: -31 * 86400), blob("new", size: 10, accessed: -86400)]
        let plan = EvictionPlan(blobs: blobs, limits: .init(maxIdle: 30 * 86400), protected: [], now: t0)
        #expect(plan.victims.map(\.digest) == [blobs[0].digest])
        #expect(plan.victims.map(\.reason) == [.idle])
    }

    /// Over a large cache the plan reads only as far as it goes: the idle blobs and
    /// those taken for size are the oldest, so it stops at the first blob it keeps.
    @Test func readsTheOldestOnlyAsFarAsItEvicts() {
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
        #expect(plan == EvictionPlan(blobs: blobs.shuffled(), limits: limits, protected: [blobs[0].digest], now: t0))
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
