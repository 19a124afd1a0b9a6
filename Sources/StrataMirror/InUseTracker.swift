import NIOConcurrencyHelpers
import StrataCore

/// Counts the responses streaming each stored blob, so eviction leaves them alone.
public final class InUseTracker: Sendable {
    private let counts = NIOLockedValueBox([Digest: Int]())

    public init() {}

    public func begin(_ digest: Digest) {
        counts.withLockedValue { $0[digest, default: 0] += 1 }
    }

    public func end(_ digest: Digest) {
        counts.withLockedValue { table in
            let left = (table[digest] ?? 1) - 1
            table[digest] = left > 0 ? left : nil
        }
    }

    public var digests: Set<Digest> { counts.withLockedValue { Set($0.keys) } }

    public func contains(_ digest: Digest) -> Bool { counts.withLockedValue { $0[digest] != nil } }
}
