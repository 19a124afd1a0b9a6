/// The error codes of the OCI distribution spec, plus the few a mirror adds.
public enum RegistryErrorCode: String, Sendable, Hashable, CaseIterable {
    case blobUnknown = "BLOB_UNKNOWN"
    case blobUploadInvalid = "BLOB_UPLOAD_INVALID"
    case blobUploadUnknown = "BLOB_UPLOAD_UNKNOWN"
    case digestInvalid = "DIGEST_INVALID"
    case manifestBlobUnknown = "MANIFEST_BLOB_UNKNOWN"
    case manifestInvalid = "MANIFEST_INVALID"
    case manifestUnknown = "MANIFEST_UNKNOWN"
    case nameInvalid = "NAME_INVALID"
    case nameUnknown = "NAME_UNKNOWN"
    case sizeInvalid = "SIZE_INVALID"
    case unauthorized = "UNAUTHORIZED"
    case denied = "DENIED"
    case unsupported = "UNSUPPORTED"
    case tooManyRequests = "TOOMANYREQUESTS"
    case tagInvalid = "TAG_INVALID"
    case rangeInvalid = "RANGE_INVALID"
    /// Not in the spec: every upstream tier failed and nothing is cached.
    case unavailable = "UNAVAILABLE"
    /// Not in the spec: the request already passed through this mirror (a loop).
    case loopDetected = "LOOP_DETECTED"

    /// The HTTP status the spec pairs with this code.
    public var httpStatus: Int {
        switch self {
        case .blobUnknown, .blobUploadUnknown, .manifestUnknown, .nameUnknown, .manifestBlobUnknown: 404
        case .digestInvalid, .manifestInvalid, .nameInvalid, .sizeInvalid, .tagInvalid, .blobUploadInvalid: 400
        case .unauthorized: 401
        case .denied: 403
        case .unsupported: 405
        case .tooManyRequests: 429
        case .rangeInvalid: 416
        case .unavailable: 503
        case .loopDetected: 508
        }
    }
}

/// One entry of the spec's error body: `{"errors":[{"code","message","detail"}]}`.
public struct RegistryError: Error, Sendable, Hashable, CustomStringConvertible {
    public let code: RegistryErrorCode
    public let message: String
    /// The HTTP status; the code's own unless a caller overrides it.
    public let status: Int

    public init(_ code: RegistryErrorCode, _ message: String, status: Int? = nil) {
        self.code = code
        self.message = message
        self.status = status ?? code.httpStatus
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// The JSON error body, as the spec defines it.
    public var jsonBody: String {
        "{\"errors\":[{\"code\":\"\(code.rawValue)\",\"message\":\(JSONString.quote(message)),\"detail\":null}]}"
    }
}

/// Minimal JSON string quoting, so error bodies need no encoder.
public enum JSONString {
    public static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
