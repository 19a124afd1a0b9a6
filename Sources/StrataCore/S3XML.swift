/// The few things Strata reads from an S3 server's XML answers (a listing's keys and
/// continuation token, a multipart upload's id, an error's code), taken by scanning
/// for elements rather than with a general XML parser. The answer is hostile input:
/// its size is bounded by the caller, and anything malformed yields nothing.
public enum S3XML {
    /// The text of every `<name>...</name>` element, in order, entities decoded.
    /// Elements with attributes or nested elements of the same name are not looked for.
    public static func values(of name: String, in xml: [UInt8]) -> [String] {
        let open = Array("<\(name)>".utf8), close = Array("</\(name)>".utf8)
        var out: [String] = []
        var i = 0
        while let start = find(open, in: xml, from: i) {
            let contentStart = start + open.count
            guard let end = find(close, in: xml, from: contentStart) else { break }
            guard let text = decode(xml[contentStart..<end]) else { return [] }
            out.append(text)
            i = end + close.count
        }
        return out
    }

    /// The first `<name>` element's text.
    public static func value(of name: String, in xml: [UInt8]) -> String? {
        values(of: name, in: xml).first
    }

    /// A listing's page: the keys, and the token for the next page when there is one.
    public struct ListPage: Equatable, Sendable {
        public let entries: [Entry]
        public let nextToken: String?

        public var keys: [String] { entries.map(\.key) }

        public init(keys: [String], nextToken: String?) {
            self.entries = keys.map { Entry(key: $0, size: nil, lastModified: nil) }
            self.nextToken = nextToken
        }

        public init(entries: [Entry], nextToken: String?) {
            self.entries = entries
            self.nextToken = nextToken
        }
    }

    /// One object of a listing: its key, and its size and time when the answer said.
    public struct Entry: Equatable, Sendable {
        public let key: String
        public let size: Int64?
        /// Seconds since 1970.
        public let lastModified: Double?

        public init(key: String, size: Int64?, lastModified: Double?) {
            self.key = key
            self.size = size
            self.lastModified = lastModified
        }
    }

    public static func listPage(_ xml: [UInt8]) -> ListPage? {
        guard find(Array("<ListBucketResult".utf8), in: xml, from: 0) != nil else { return nil }
        let truncated = value(of: "IsTruncated", in: xml) == "true"
        let token = value(of: "NextContinuationToken", in: xml)
        var entries: [Entry] = []
        let open = Array("<Contents>".utf8), close = Array("</Contents>".utf8)
        var i = 0
        while let start = find(open, in: xml, from: i), let end = find(close, in: xml, from: start + open.count) {
            let block = Array(xml[(start + open.count)..<end])
            if let key = value(of: "Key", in: block) {
                let size = value(of: "Size", in: block).flatMap { Int64($0) }.flatMap { $0 >= 0 ? $0 : nil }
                entries.append(Entry(key: key, size: size, lastModified: value(of: "LastModified", in: block).flatMap(timestamp)))
            }
            i = end + close.count
        }
        return ListPage(entries: entries, nextToken: truncated ? token : nil)
    }

    /// `2026-11-30T10:07:03.123Z` (S3's listing time) as seconds since 1970; nil for
    /// anything else.
    public static func timestamp(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.count <= 40, bytes.last == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= bytes.count else { return nil }
            var value = 0
            for b in bytes[range] {
                guard b >= 48 && b <= 57 else { return nil }
                value = value * 10 + Int(b - 48)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T"),
              (1970...9999).contains(year), (1...12).contains(month), (1...31).contains(day),
              hour < 24, minute < 60, second < 61 else { return nil }
        var fraction = 0.0
        if bytes[19] == UInt8(ascii: ".") {
            // At most nanoseconds: more digits than that would overflow the number read.
            guard bytes.count - 21 <= 9, let digits = number(20..<(bytes.count - 1)) else { return nil }
            fraction = Double(digits) / pow10(bytes.count - 21)
        } else if bytes.count != 20 {
            return nil
        }
        return Double(CivilTime.secondsSince1970(year: year, month: month, day: day, hour: hour, minute: minute, second: second)) + fraction
    }

    private static func pow10(_ n: Int) -> Double {
        var value = 1.0
        for _ in 0..<max(0, n) { value *= 10 }
        return value
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, from <= haystack.count - needle.count else { return nil }
        var i = from
        let first = needle[0]
        while i <= haystack.count - needle.count {
            if haystack[i] == first && haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    /// Character data with the five predefined entities and numeric references decoded;
    /// nil when it holds markup or a reference that is not one of those.
    static func decode(_ bytes: ArraySlice<UInt8>) -> String? {
        guard let text = String(validating: bytes, as: UTF8.self), !text.contains("<") else { return nil }
        guard text.contains("&") else { return text }
        var out = ""
        var rest = Substring(text)
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semi = rest[amp...].firstIndex(of: ";"), rest.distance(from: amp, to: semi) <= 10 else { return nil }
            let entity = rest[rest.index(after: amp)..<semi]
            switch entity {
            case "amp": out += "&"
            case "lt": out += "<"
            case "gt": out += ">"
            case "quot": out += "\""
            case "apos": out += "'"
            default:
                guard entity.hasPrefix("#") else { return nil }
                let digits = entity.dropFirst()
                let value = digits.hasPrefix("x") ? UInt32(digits.dropFirst(), radix: 16) : UInt32(digits, radix: 10)
                guard let value, let scalar = Unicode.Scalar(value) else { return nil }
                out.unicodeScalars.append(scalar)
            }
            rest = rest[rest.index(after: semi)...]
        }
        return out + rest
    }
}
