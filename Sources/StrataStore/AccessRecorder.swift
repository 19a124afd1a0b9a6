import Foundation
import NIOConcurrencyHelpers
import StrataCore

/// Counts blob and manifest hits in memory and writes them to the index in batches,
/// so a cache hit never waits for SQLite.
public final class AccessRecorder: Sendable {
    private let pending = NIOLockedValueBox([Digest: (hits: Int, last: Date)]())
    private let index: CacheIndex

    public init(index: CacheIndex) {
        self.index = index
    }

    public func record(_ digest: Digest, at time: Date) {
        pending.withLockedValue { table in
            let old = table[digest]
            table[digest] = ((old?.hits ?? 0) + 1, max(old?.last ?? time, time))
        }
    }

    /// Writes what was counted since the last flush.
    public func flush() throws {
        let batch = pending.withLockedValue { table -> [Digest: (hits: Int, last: Date)] in
            defer { table = [:] }
            return table
        }
        try index.recordAccess(batch)
    }
}
