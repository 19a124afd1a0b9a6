/// A single `Range: bytes=...` request, resolved against a blob's size.
public enum ByteRangeRequest: Sendable, Hashable {
    /// No usable Range header: serve the whole body with 200.
    case whole
    /// A satisfiable range: serve `lower..<upper` with 206.
    case partial(lower: Int64, upper: Int64)
    /// Syntactically a byte range, but outside the blob: answer 416.
    case unsatisfiable

    /// Resolves a Range header value against `size`. Multi-range and malformed headers
    /// are ignored (RFC 9110 lets a server serve the whole body instead).
    public init(header: String?, size: Int64) {
        guard size >= 0, let header, header.hasPrefix("bytes=") else { self = .whole; return }
        let spec = header.dropFirst(6).trimmingSpaces()
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { self = .whole; return }
        let first = spec[..<dash].trimmingSpaces()
        let last = spec[spec.index(after: dash)...].trimmingSpaces()
        if first.isEmpty {
            // Suffix range: the last N bytes.
            guard let n = Int64(last), n >= 0 else { self = .whole; return }
            guard n > 0, size > 0 else { self = .unsatisfiable; return }
            self = .partial(lower: max(0, size - n), upper: size)
            return
        }
        guard let lower = Int64(first), lower >= 0 else { self = .whole; return }
        var upper = size
        if !last.isEmpty {
            guard let end = Int64(last), end >= lower else { self = .whole; return }
            // `end + 1` would trap at Int64.max: compare before adding.
            upper = end >= size ? size : end + 1
        }
        guard lower < size else { self = .unsatisfiable; return }
        self = .partial(lower: lower, upper: upper)
    }
}
