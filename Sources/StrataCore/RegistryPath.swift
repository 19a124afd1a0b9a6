/// A request path on the registry port, parsed into what it names.
///
/// `/v2/<name>/manifests/<reference>` and friends: the name may contain `/`, so the
/// path is split from the right on the last known keyword.
public enum RegistryPath: Hashable, Sendable {
    case base
    case catalog
    case tagsList(RepositoryName)
    /// `/v2/<name>/referrers/<digest>` (OCI 1.1).
    case referrers(RepositoryName, Digest)
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
        if let range = Self.find("/blobs/uploads", in: rest, last: false) {
            let tail = rest[range.upperBound...]
            guard tail.isEmpty || tail.first == "/" else { return nil }
            self = .blobUpload(try RepositoryName(String(rest[..<range.lowerBound])))
            return
        }
        if let range = Self.find("/referrers/", in: rest, last: true) {
            let name = try RepositoryName(String(rest[..<range.lowerBound]))
            self = .referrers(name, try Digest(parsing: String(rest[range.upperBound...])))
            return
        }
        if let range = Self.find("/manifests/", in: rest, last: true) {
            let name = try RepositoryName(String(rest[..<range.lowerBound]))
            self = .manifest(name, try Reference(parsing: String(rest[range.upperBound...])))
            return
        }
        if let range = Self.find("/blobs/", in: rest, last: true) {
            let name = try RepositoryName(String(rest[..<range.lowerBound]))
            self = .blob(name, try Digest(parsing: String(rest[range.upperBound...])))
            return
        }
        return nil
    }

    /// The first or last occurrence of an ASCII `needle`, searched on UTF-8 bytes
    /// (Foundation's `range(of:)` bridges through NSString on every request).
    static func find(_ needle: StaticString, in haystack: Substring, last: Bool) -> Range<Substring.Index>? {
        let pattern = UnsafeBufferPointer(start: needle.utf8Start, count: needle.utf8CodeUnitCount)
        let offset = haystack.utf8.withContiguousStorageIfAvailable { position(of: pattern, in: $0, last: last) }
            ?? position(of: pattern, in: Array(haystack.utf8), last: last)
        guard let offset else { return nil }
        let start = haystack.utf8.index(haystack.startIndex, offsetBy: offset)
        return start..<haystack.utf8.index(start, offsetBy: pattern.count)
    }

    private static func position(
        of pattern: UnsafeBufferPointer<UInt8>, in bytes: some RandomAccessCollection<UInt8>, last: Bool
    ) -> Int? {
        let n = pattern.count, count = bytes.count
        guard count >= n else { return nil }
        let base = bytes.startIndex
        func matches(at start: Int) -> Bool {
            for k in 0..<n where bytes[bytes.index(base, offsetBy: start + k)] != pattern[k] { return false }
            return true
        }
        let starts = 0...(count - n)
        if last {
            return starts.reversed().first(where: matches)
        }
        return starts.first(where: matches)
    }
}
