import Foundation

/// Proof that a blob request comes from another replica on the same shared store, for
/// a registry port that requires a login: `X-Strata-Peer: <expires>.<hex>`, the HMAC-SHA256
/// of the request path and the expiry (seconds since 1970), keyed with a key derived from
/// the store's secret key, which every replica of one bucket holds. Good for a few minutes
/// and for the one path it names; the value is hostile input until it checks out.
public struct PeerToken: Sendable {
    public static let header = "X-Strata-Peer"
    /// How long a token lasts, and how far ahead of the receiver's clock it may be.
    public static let lifetime: Int64 = 300
    private let key: [UInt8]

    public init(secret: String) {
        key = HMAC.sha256(key: Array(secret.utf8), Array("strata peer token v1".utf8))
    }

    public func make(path: String, now: Date) -> String {
        let expires = Int64(now.timeIntervalSince1970) + Self.lifetime
        return "\(expires).\(mac(path: path, expires: expires).hexString)"
    }

    /// Whether `value` is a token for `path` that has not expired.
    public func verify(_ value: String, path: String, now: Date) -> Bool {
        guard let (expires, mac) = Self.parse(value) else { return false }
        let seconds = Int64(now.timeIntervalSince1970)
        guard expires >= seconds, expires <= seconds + 2 * Self.lifetime else { return false }
        let expected = self.mac(path: path, expires: expires)
        // Compared in constant time.
        return zip(expected, mac).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// `<digits>.<64 hex digits>`, nothing else; nil otherwise.
    public static func parse(_ value: String) -> (expires: Int64, mac: [UInt8])? {
        let bytes = Array(value.utf8)
        guard bytes.count <= 12 + 1 + 64, let dot = bytes.firstIndex(of: UInt8(ascii: ".")),
              dot > 0, dot <= 12, bytes.count - dot - 1 == 64 else { return nil }
        var expires: Int64 = 0
        for byte in bytes[..<dot] {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            expires = expires * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        var mac: [UInt8] = []
        mac.reserveCapacity(32)
        var index = dot + 1
        while index < bytes.count {
            guard let high = hexValue(bytes[index]), let low = hexValue(bytes[index + 1]) else { return nil }
            mac.append(high << 4 | low)
            index += 2
        }
        return (expires, mac)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    private func mac(path: String, expires: Int64) -> [UInt8] {
        HMAC.sha256(key: key, Array("\(expires)\n\(path)".utf8))
    }
}
