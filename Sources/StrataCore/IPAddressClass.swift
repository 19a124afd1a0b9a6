/// What kind of network an IP address belongs to, for the redirect policy.
///
/// Parses dotted IPv4 and RFC 4291 IPv6 text (with `::`, an embedded IPv4 tail, and
/// no zone); anything else is not an address.
public enum IPAddressClass: String, Sendable, Equatable {
    /// 127/8, ::1.
    case loopback
    /// 10/8, 172.16/12, 192.168/16, 100.64/10 (carrier-grade NAT), fc00::/7.
    case `private`
    /// 169.254/16 (cloud metadata lives here), fe80::/10, and AWS's fd00:ec2::254.
    case linkLocal = "link-local"
    /// 0.0.0.0/8, ::, multicast, broadcast, reserved ranges: never a server to fetch from.
    case unusable
    /// Everything else.
    case `public`

    /// The class of `text`, or nil when `text` is not an IP address.
    public init?(address text: String) {
        if let v4 = Self.parseIPv4(Substring(text)) {
            self = Self.classify(v4)
            return
        }
        guard let v6 = Self.parseIPv6(text) else { return nil }
        self = Self.classify(v6)
    }

    static func classify(_ a: [UInt8]) -> Self {
        switch (a[0], a[1]) {
        case (0, _): return .unusable
        case (127, _): return .loopback
        case (10, _): return .private
        case (172, 16...31): return .private
        case (192, 168): return .private
        case (100, 64...127): return .private
        case (169, 254): return .linkLocal
        case (224...255, _): return .unusable
        default: return .public
        }
    }

    static func classify(_ a: [UInt16]) -> Self {
        if a.allSatisfy({ $0 == 0 }) { return .unusable }
        if a[0..<7].allSatisfy({ $0 == 0 }) && a[7] == 1 { return .loopback }
        // IPv4-mapped ::ffff:a.b.c.d and IPv4-compatible ::a.b.c.d take the IPv4 class.
        if a[0..<5].allSatisfy({ $0 == 0 }) && (a[5] == 0xffff || a[5] == 0) {
            return classify([UInt8(a[6] >> 8), UInt8(a[6] & 0xff), UInt8(a[7] >> 8), UInt8(a[7] & 0xff)])
        }
        if a == [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254] { return .linkLocal }
        if a[0] & 0xffc0 == 0xfe80 { return .linkLocal }
        if a[0] & 0xfe00 == 0xfc00 { return .private }
        if a[0] & 0xff00 == 0xff00 { return .unusable }
        return .public
    }

    static func parseIPv4(_ text: Substring) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            guard (1...3).contains(part.utf8.count), part.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  let value = UInt8(part) else { return nil }
            out.append(value)
        }
        return out
    }

    static func parseIPv6(_ text: String) -> [UInt16]? {
        guard text.utf8.count <= 45, text.contains(":") else { return nil }
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String, allowV4Tail: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            var out: [UInt16] = []
            for (i, piece) in pieces.enumerated() {
                if i == pieces.count - 1, allowV4Tail, piece.contains(".") {
                    guard let v4 = parseIPv4(piece) else { return nil }
                    out.append(UInt16(v4[0]) << 8 | UInt16(v4[1]))
                    out.append(UInt16(v4[2]) << 8 | UInt16(v4[3]))
                    continue
                }
                guard (1...4).contains(piece.utf8.count), piece.allSatisfy(\.isHexDigit),
                      let value = UInt16(piece, radix: 16) else { return nil }
                out.append(value)
            }
            return out
        }
        if halves.count == 1 {
            guard let all = groups(halves[0], allowV4Tail: true), all.count == 8 else { return nil }
            return all
        }
        guard let head = groups(halves[0], allowV4Tail: false), let tail = groups(halves[1], allowV4Tail: true),
              head.count + tail.count <= 7 else { return nil }
        return head + [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
    }
}
