/// One 512-byte ustar header block, parsed and checked: the checksum must match, the
/// size must be a plain octal number, and the name is joined with the ustar prefix.
public struct TarHeader: Sendable, Equatable {
    public let name: String
    public let size: Int64
    /// A regular file (type `0` or NUL).
    public let isFile: Bool

    public struct Invalid: Error, Sendable, CustomStringConvertible, Equatable {
        public let description: String
    }

    /// nil for an all-zero block (the end of an archive).
    public init?(block: [UInt8]) throws(Invalid) {
        guard block.count == 512 else { throw Invalid(description: "tar header block of \(block.count) bytes") }
        if block.allSatisfy({ $0 == 0 }) { return nil }
        func text(_ offset: Int, _ length: Int) -> String {
            String(decoding: block[offset..<(offset + length)].prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        /// Octal digits, optionally padded with spaces or NULs; at most 11 digits (< 2^33),
        /// so no value can overflow.
        func octal(_ offset: Int, _ length: Int) -> Int64? {
            let field = block[offset..<(offset + length)].filter { $0 != 0x20 && $0 != 0 }
            guard !field.isEmpty, field.count <= 11, field.allSatisfy({ $0 >= 0x30 && $0 <= 0x37 }) else { return nil }
            return field.reduce(0) { $0 * 8 + Int64($1 - 0x30) }
        }
        var sum: Int64 = 0
        for (i, b) in block.enumerated() { sum += (148..<156).contains(i) ? 32 : Int64(b) }
        guard let stored = octal(148, 8), stored == sum else { throw Invalid(description: "bad tar header checksum") }
        guard let size = octal(124, 12) else { throw Invalid(description: "bad tar entry size") }
        var name = text(0, 100)
        if text(257, 5) == "ustar" {
            let prefix = text(345, 155)
            if !prefix.isEmpty { name = prefix + "/" + name }
        }
        if name.hasPrefix("./") { name.removeFirst(2) }
        self.name = name
        self.size = size
        self.isFile = block[156] == UInt8(ascii: "0") || block[156] == 0
    }
}
