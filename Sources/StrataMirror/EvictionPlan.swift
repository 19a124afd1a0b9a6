import Foundation
import StrataCore
import StrataStore

/// Which blobs to remove, decided without I/O.
///
/// Idle blobs (not requested for `maxIdle`) go first; then, while the cache is above
/// `maxSize`, the least recently requested, until it is at or below `lowWatermark`.
/// Pinned and in-use blobs are never chosen.
public struct EvictionPlan: Sendable, Equatable {
    public struct Limits: Sendable, Equatable {
        public var maxSize: Int64?
        /// The fraction of `maxSize` that eviction brings the cache down to.
        public var lowWatermark: Double
        public var maxIdle: TimeInterval?

        public init(maxSize: Int64? = nil, lowWatermark: Double = 0.9, maxIdle: TimeInterval? = nil) {
            self.maxSize = maxSize
            self.lowWatermark = lowWatermark
            self.maxIdle = maxIdle
        }
    }

    public enum Reason: String, Sendable, Codable { case idle, size }

    public let victims: [(digest: Digest, bytes: Int64, reason: Reason)]

    public static func == (a: EvictionPlan, b: EvictionPlan) -> Bool {
        a.victims.map(\.digest) == b.victims.map(\.digest) && a.victims.map(\.reason) == b.victims.map(\.reason)
    }

    public var bytes: Int64 { victims.reduce(0) { $0 + $1.bytes } }

    /// The plan over the cache's blobs least recently requested first, read only as far
    /// as the plan goes: idle blobs are the oldest, and blobs taken for size follow them,
    /// so the plan stops at the first blob it keeps (however large the cache).
    public init(total stored: Int64, oldestFirst: some Sequence<EvictionCandidate>, limits: Limits, protected: Set<Digest>, now: Date) {
        var victims: [(Digest, Int64, Reason)] = []
        var total = stored
        var forSize: Bool?   // decided at the first blob that is not idle
        let target = limits.maxSize.map { Int64(Double($0) * limits.lowWatermark) }
        for blob in oldestFirst where !protected.contains(blob.digest) {
            if let maxIdle = limits.maxIdle, now.timeIntervalSince(blob.lastAccess) >= maxIdle {
                victims.append((blob.digest, blob.storedSize, .idle))
                total -= blob.storedSize
                continue
            }
            if forSize == nil { forSize = limits.maxSize.map { total > $0 } ?? false }
            guard forSize == true, let target, total > target else { break }
            victims.append((blob.digest, blob.storedSize, .size))
            total -= blob.storedSize
        }
        self.victims = victims
    }
}
