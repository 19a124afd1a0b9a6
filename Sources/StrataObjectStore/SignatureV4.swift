import Foundation
import NIOCore
import StrataCore

/// AWS Signature Version 4 for S3 requests, header form: the canonical request, the
/// string to sign, the derived key, the `Authorization` header.
///
/// Paths are encoded the S3 way (each segment once, `/` kept, no `.` or `..`
/// resolution). The payload hash is the body's SHA-256, so a store that checks it
/// refuses a body changed on the way (`x-amz-content-sha256`).
public struct SignatureV4: Sendable {
    public let accessKey: String
    let secretKey: String
    public let region: String
    public let service: String

    public init(accessKey: String, secretKey: String, region: String, service: String = "s3") {
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.region = region
        self.service = service
    }

    /// The SHA-256 of an empty body.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// What to send: `headers` plus `x-amz-date` and `Authorization`. `path` is the
    /// decoded path (`/bucket/key`), `query` the decoded parameters, `headers` every
    /// header to sign (with `host`).
    public func sign(
        method: String, path: String, query: [(String, String)], headers: [(String, String)], payloadHash: String, date: Date
    ) -> [(String, String)] {
        let amzDate = Self.amzDate(date)
        var all = headers.filter { $0.0.lowercased() != "x-amz-date" && $0.0.lowercased() != "authorization" }
        all.append(("x-amz-date", amzDate))
        let (canonical, signed) = canonicalRequest(method: method, path: path, query: query, headers: all, payloadHash: payloadHash)
        let scope = "\(amzDate.prefix(8))/\(region)/\(service)/aws4_request"
        let stringToSign = "AWS4-HMAC-SHA256\n\(amzDate)\n\(scope)\n\(Self.sha256Hex(Array(canonical.utf8)))"
        let signature = HMAC.sha256(key: signingKey(day: String(amzDate.prefix(8))), Array(stringToSign.utf8)).hexString
        all.append(("Authorization", "AWS4-HMAC-SHA256 Credential=\(accessKey)/\(scope), SignedHeaders=\(signed), Signature=\(signature)"))
        return all
    }

    /// The canonical request and the signed-header list.
    func canonicalRequest(method: String, path: String, query: [(String, String)], headers: [(String, String)], payloadHash: String) -> (String, String) {
        let uri = path.isEmpty ? "/" : Self.encode(path, keepSlash: true)
        let encoded: [(name: String, value: String)] = query.map { (Self.encode($0.0, keepSlash: false), Self.encode($0.1, keepSlash: false)) }
        let sorted = encoded.sorted { a, b in a.name != b.name ? a.name < b.name : a.value < b.value }
        let queryString = sorted.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
        var merged: [String: [String]] = [:]
        for (name, value) in headers {
            merged[name.lowercased(), default: []].append(Self.trim(value))
        }
        let names = merged.keys.sorted()
        let canonicalHeaders = names.map { "\($0):\(merged[$0]!.joined(separator: ","))\n" }.joined()
        let signed = names.joined(separator: ";")
        return ("\(method)\n\(uri)\n\(queryString)\n\(canonicalHeaders)\n\(signed)\n\(payloadHash)", signed)
    }

    private func signingKey(day: String) -> [UInt8] {
        var key = HMAC.sha256(key: Array("AWS4\(secretKey)".utf8), Array(day.utf8))
        for part in [region, service, "aws4_request"] { key = HMAC.sha256(key: key, Array(part.utf8)) }
        return key
    }

    /// Spaces trimmed at both ends and runs of spaces made one, as SigV4 wants.
    static func trim(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            .trimmingCharacters(in: .whitespaces)
    }

    /// RFC 3986 percent-encoding of everything but unreserved characters (and `/` when kept).
    public static func encode(_ text: String, keepSlash: Bool) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "/") where keepSlash:
                out.append("/")
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    public static func sha256Hex(_ bytes: [UInt8]) -> String {
        ContentHasher.digest(of: bytes).hex
    }

    /// The SHA-256 of a body, hashed where it lies (a part is up to 16 MiB).
    public static func sha256Hex(buffer: ByteBuffer) -> String {
        let hasher = ContentHasher(.sha256)
        buffer.withUnsafeReadableBytes { hasher.update($0) }
        return hasher.finalize().hex
    }

    static func amzDate(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }
}
