import Foundation

/// A request path on the registry port, parsed into what it names.
///
/// `/v2/<name>/manifests/<reference>` and friends: the name may contain `/`, so the
/// path is split from the right on the last known keyword.
public enum RegistryPath: Hashable, Sendable {
    case base
    case catalog
    case tagsList(RepositoryName)
    case manifest(RepositoryName, Reference)
    case blob(RepositoryName, Digest)
    case blobUpload(RepositoryName)

    /// Parses a path (without its query). Returns nil for paths outside `/v2/`.
    /// Throws for a path of the right shape with an invalid name, tag or digest.
    public init?(path: String) throws(ValidationError) {
        guard path.hasPrefix("/v2") else { return nil }
        var rest = path.dropFirst(3)
        if rest.isEmpty || rest == "/" { self = .base; return }
        guard rest.first == "/" else { return nil }
        rest = rest.dropFirst()
        if rest == "_catalog" { self = .catalog; return }
        if rest.hasSuffix("/tags/list") {
            self = .tagsList(try RepositoryName(String(rest.dropLast("/tags/list".count))))
            return
        }
        if let range = rest.range(of: "/blobs/uploads") {
            let tail = rest[range.upperBound...]
            guard tail.isEmpty || tail.first == "/" else { return nil }
            self = .blobUpload(try RepositoryName(String(rest[..<range.lowerBound])))
            return
        }
        if let range = rest.range(of: "/manifests/", options: .backwards) {
            let name = try RepositoryName(String(rest[..<range.lowerBound]))
            self = .manifest(name, try Reference(parsing: String(rest[range.upperBound...])))
            return
        }
        if let range = rest.range(of: "/blobs/", options: .backwards) {
            let name = try RepositoryName(String(rest[..<range.lowerBound]))
            self = .blob(name, try Digest(parsing: String(rest[range.upperBound...])))
            return
        }
        return nil
    }
}
