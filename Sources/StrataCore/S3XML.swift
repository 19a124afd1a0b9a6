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
        public let keys: [String]
        public let nextToken: String?

        public init(keys: [String], nextToken: String?) {
            self.keys = keys
            self.nextToken = nextToken
        }
    }

    public static func listPage(_ xml: [UInt8]) -> ListPage? {
        guard find(Array("<ListBucketResult".utf8), in: xml, from: 0) != nil else { return nil }
        let truncated = value(of: "IsTruncated", in: xml) == "true"
        let token = value(of: "NextContinuationToken", in: xml)
        return ListPage(keys: values(of: "Key", in: xml), nextToken: truncated ? token : nil)
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
