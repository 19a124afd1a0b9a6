/// A content digest, `algorithm:hex`, validated as the OCI distribution spec allows.
///
/// Only `sha256` (64 lowercase hex) and `sha512` (128 lowercase hex) are accepted;
/// anything else, including upper-case hex, is invalid.
public struct Digest: Hashable, Sendable, CustomStringConvertible, Comparable {
    public enum Algorithm: String, Sendable, Hashable, CaseIterable {
        case sha256
        case sha512

        var hexLength: Int { self == .sha256 ? 64 : 128 }
    }

    public let algorithm: Algorithm
    /// The lowercase hex encoding of the hash.
    public let hex: String

    public init(algorithm: Algorithm, hex: String) throws(ValidationError) {
        guard hex.utf8.count == algorithm.hexLength,
              hex.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
        else { throw ValidationError.digestInvalid(hex) }
        self.algorithm = algorithm
        self.hex = hex
    }

    public init(parsing string: String) throws(ValidationError) {
        guard let colon = string.firstIndex(of: ":") else { throw .digestInvalid(string) }
        guard let algorithm = Algorithm(rawValue: String(string[..<colon])) else { throw .digestInvalid(string) }
        do {
            try self.init(algorithm: algorithm, hex: String(string[string.index(after: colon)...]))
        } catch {
            throw .digestInvalid(string)
        }
    }

    public var description: String { "\(algorithm.rawValue):\(hex)" }

    public static func < (lhs: Digest, rhs: Digest) -> Bool { lhs.description < rhs.description }
}
