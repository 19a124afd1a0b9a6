import NIOHTTP1

/// The contract between ``RegistryResponder`` and ``FileRegionHandler``: a response head
/// carrying this marker (and an empty body) asks the handler to send `length` bytes of the
/// file at `path` from `offset`, with sendfile(2), in place of the body.
///
/// The marker never reaches a client: the handler strips it from the head. The responder
/// only sets it on connections that have the handler (plain-text HTTP/1).
struct FileRegionMarker: Equatable {
    static let headerName = "x-strata-file-region"

    let path: String
    let offset: Int64
    let length: Int64

    /// `offset length path`; the path comes last, so it may hold spaces.
    var headerValue: String { "\(offset) \(length) \(path)" }

    init(path: String, offset: Int64, length: Int64) {
        self.path = path
        self.offset = offset
        self.length = length
    }

    init?(headerValue: String) {
        let parts = headerValue.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let offset = Int64(parts[0]), let length = Int64(parts[1]),
              offset >= 0, length >= 0, !parts[2].isEmpty else { return nil }
        self.init(path: String(parts[2]), offset: offset, length: length)
    }
}
