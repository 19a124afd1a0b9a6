/// A repository name such as `library/alpine`, validated by the OCI distribution grammar:
/// path components of `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` joined by `/`, at most 255 characters.
///
/// The grammar rules out `..`, percent-encoding, upper case, empty components and NUL bytes,
/// so a valid name is also safe to use as a key on disk.
public struct RepositoryName: Hashable, Sendable, CustomStringConvertible, Comparable {
    public static let maxLength = 255

    public let value: String

    public init(_ string: String) throws(ValidationError) {
        guard !string.isEmpty, string.utf8.count <= Self.maxLength else { throw .nameInvalid(string) }
        for component in string.split(separator: "/", omittingEmptySubsequences: false) {
            guard Self.isValidComponent(component.utf8) else { throw .nameInvalid(string) }
        }
        self.value = string
    }

    public var description: String { value }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.value < rhs.value }

    /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
    private static func isValidComponent(_ bytes: Substring.UTF8View) -> Bool {
        func isAlnum(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) }
        var iterator = bytes.makeIterator()
        guard let first = iterator.next(), isAlnum(first) else { return false }
        // Separator run currently being read: nil when the last byte was alphanumeric.
        var separator: [UInt8]? = nil
        while let b = iterator.next() {
            if isAlnum(b) {
                if let run = separator {
                    let ok = run == [0x2e] || run == [0x5f] || run == [0x5f, 0x5f] || run.allSatisfy { $0 == 0x2d }
                    guard ok else { return false }
                    separator = nil
                }
            } else if b == 0x2e || b == 0x5f || b == 0x2d {
                separator = (separator ?? []) + [b]
            } else {
                return false
            }
        }
        return separator == nil
    }
}
