/// The next page named by an upstream's `Link: <...>; rel="next"` header, kept to one
/// listing: the target must be `path` on the same registry (no host), optionally with a
/// query of visible ASCII. Anything else (another host, another repository, a
/// fragment) ends the listing.
public enum LinkHeader {
    public static func nextPage(_ link: String, path: String) -> String? {
        guard link.utf8.count <= 4096 else { return nil }
        for part in link.split(separator: ",") {
            let fields = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let target = fields.first, target.hasPrefix("<"), target.hasSuffix(">"),
                  fields.dropFirst().contains(where: { $0.replacingOccurrences(of: "\"", with: "").lowercased() == "rel=next" }) else { continue }
            let url = String(target.dropFirst().dropLast())
            guard url.hasPrefix(path) else { return nil }
            let rest = url.dropFirst(path.count)
            guard rest.isEmpty || rest.first == "?",
                  rest.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f && $0 != 0x23 }) else { return nil }
            return url
        }
        return nil
    }
}
