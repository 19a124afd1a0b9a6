import Foundation
import NIOConcurrencyHelpers
import StrataCore
import StrataMirror

/// What one request learned on its way through the routes, for its ledger record.
/// The route fills it in; the response body reads it once the body is written.
final class Exchange: Sendable {
    struct Info {
        var kind: LedgerRecord.Kind = .other
        var registry: String?
        var repository: String?
        var reference: String?
        var tier = "none"
        var tierPath: [String] = []
        var attempts: [LedgerRecord.Attempt] = []
        var error: String?
        /// A blob fill whose attempts are known only when it ends.
        var fill: BlobFill?
        /// Bytes handed to sendfile rather than written through the body writer.
        var fileRegionBytes: Int64 = 0
    }

    private let box = NIOLockedValueBox(Info())

    func update(_ change: (inout Info) -> Void) {
        box.withLockedValue { change(&$0) }
    }

    var info: Info { box.withLockedValue { $0 } }
}
