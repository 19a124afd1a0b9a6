import Foundation

/// One page of an upstream's `tags/list` answer, checked: `{"name": ..., "tags": [...]}`
/// (`tags` may be `null` for a repository without tags), and where the next page is.
///
/// Tags that are not valid tag names are dropped: what Strata lists, a client may pull.
public struct TagListPage: Sendable, Equatable {
    public let tags: [Tag]

    public init(tags: [Tag]) {
        self.tags = tags
    }

    /// nil for anything but an object with a `tags` array (or `null`) of strings.
    public init?(parsing bytes: [UInt8]) {
        struct Wire: Decodable {
            let tags: [String]?
        }
        guard JSONDepth.isWithin(bytes, limit: 8), let wire = try? JSONDecoder().decode(Wire.self, from: Data(bytes)) else {
            return nil
        }
        self.tags = (wire.tags ?? []).compactMap { try? Tag($0) }
    }
}
