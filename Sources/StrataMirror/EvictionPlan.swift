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

    public init(blobs: [CacheIndex.BlobRow], limits: Limits, protected: Set<Digest>, now: Date) {
        var victims: [(Digest, Int64, Reason)] = []
        var total = blobs.reduce(0) { $0 + $1.storedSize }
        let candidates = blobs.filter { !protected.contains($0.digest) }
            .sorted { ($0.lastAccess, $0.digest) < ($1.lastAccess, $1.digest) }
        var chosen = Set<Digest>()
        if let maxIdle = limits.maxIdle {
            for blob in candidates where now.timeIntervalSince(blob.lastAccess) >= maxIdle {
                victims.append((blob.digest, blob.storedSize, .idle))
                chosen.insert(blob.digest)
                total -= blob.storedSize
            }
        }
        if let maxSize = limits.maxSize, total > maxSize {
            let target = Int64(Double(maxSize) * limits.lowWatermark)
            for blob in candidates where !chosen.contains(blob.digest) {
                guard total > target else { break }
                victims.append((blob.digest, blob.storedSize, .size))
                total -= blob.storedSize
            }
        }
        self.victims = victims
    }
}
