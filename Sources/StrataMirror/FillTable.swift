import NIOConcurrencyHelpers
import StrataCore

/// The fills in flight, by digest: at most one per blob, however many clients wait.
/// One table per engine, never process-global.
final class FillTable: Sendable {
    private let fills = NIOLockedValueBox([Digest: BlobFill]())

    /// Returns the running fill for `digest`, or creates one with `make` and reports
    /// that the caller leads it.
    func join(_ digest: Digest, make: () -> BlobFill) -> (fill: BlobFill, leader: Bool) {
        fills.withLockedValue { table in
            if let existing = table[digest] { return (existing, false) }
            let fill = make()
            table[digest] = fill
            return (fill, true)
        }
    }

    func remove(_ digest: Digest, _ fill: BlobFill) {
        fills.withLockedValue { table in
            if table[digest] === fill { table[digest] = nil }
        }
    }

    var count: Int { fills.withLockedValue { $0.count } }

    func contains(_ digest: Digest) -> Bool { fills.withLockedValue { $0[digest] != nil } }
}
