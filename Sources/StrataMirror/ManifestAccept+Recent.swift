import NIOConcurrencyHelpers
import StrataCore

extension ManifestAccept {
    /// The same as `init(headers:)`, remembered: clients send the same few `Accept`
    /// values over and over, and parsing one costs more than the rest of a cache hit.
    public static func parsing(_ headers: [String]) -> ManifestAccept {
        if let known = recent.withLockedValue({ $0[headers] }) { return known }
        let parsed = ManifestAccept(headers: headers)
        recent.withLockedValue { known in
            if known.count >= 64 { known.removeAll(keepingCapacity: true) }
            known[headers] = parsed
        }
        return parsed
    }

    private static let recent = NIOLockedValueBox<[[String]: ManifestAccept]>([:])
}
