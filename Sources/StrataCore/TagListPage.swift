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

    /// The next page from a `Link` header, as a path and query on the same registry:
    /// only `</v2/<repository>/tags/list?...>; rel="next"` for the repository asked
    /// about, with a query of visible ASCII. Anything else (another host, another
    /// repository, a fragment) ends the listing.
    public static func nextPage(link: String, repository: RepositoryName) -> String? {
        guard link.utf8.count <= 4096 else { return nil }
        for part in link.split(separator: ",") {
            let fields = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let target = fields.first, target.hasPrefix("<"), target.hasSuffix(">"),
                  fields.dropFirst().contains(where: { $0.replacingOccurrences(of: "\"", with: "").lowercased() == "rel=next" }) else { continue }
            let url = String(target.dropFirst().dropLast())
            let path = "/v2/\(repository.value)/tags/list"
            guard url.hasPrefix(path) else { return nil }
            let rest = url.dropFirst(path.count)
            guard rest.isEmpty || rest.first == "?",
                  rest.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f && $0 != 0x23 }) else { return nil }
            return url
        }
        return nil
    }
}
