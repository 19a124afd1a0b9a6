/// A tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
public struct Tag: Hashable, Sendable, CustomStringConvertible, Comparable {
    public let value: String

    public init(_ string: String) throws(ValidationError) {
        let bytes = Array(string.utf8)
        guard (1...128).contains(bytes.count) else { throw .tagInvalid(string) }
        func isWord(_ b: UInt8) -> Bool {
            (b >= 0x61 && b <= 0x7a) || (b >= 0x41 && b <= 0x5a) || (b >= 0x30 && b <= 0x39) || b == 0x5f
        }
        guard isWord(bytes[0]) else { throw .tagInvalid(string) }
        guard bytes.dropFirst().allSatisfy({ isWord($0) || $0 == 0x2e || $0 == 0x2d }) else { throw .tagInvalid(string) }
        self.value = string
    }

    public var description: String { value }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.value < rhs.value }
}
