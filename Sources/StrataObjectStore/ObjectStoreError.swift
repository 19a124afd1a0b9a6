/// Why a request to the object store did not do what was asked.
public struct ObjectStoreError: Error, Sendable, CustomStringConvertible {
    private enum Code: Sendable, Equatable {
        case preconditionFailed
        case denied
        case unavailable
        case invalidResponse
        case badDigest
        case tooLarge
    }
    private let code: Code
    public let status: Int?
    public let message: String
    /// The error underneath (AsyncHTTPClient's), for the log.
    public let cause: (any Error & Sendable)?

    private init(_ code: Code, status: Int?, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.status = status
        self.message = message
        self.cause = cause
    }

    /// 412: a create-only write found the object there, or a compare-and-swap lost.
    static func preconditionFailed(_ message: String) -> Self { .init(.preconditionFailed, status: 412, message) }
    /// 401/403: the credentials or the signature were refused.
    static func denied(status: Int, _ message: String) -> Self { .init(.denied, status: status, message) }
    /// The store could not be reached, or answered 5xx.
    static func unavailable(status: Int?, _ message: String, cause: (any Error & Sendable)? = nil) -> Self {
        .init(.unavailable, status: status, message, cause: cause)
    }
    /// An answer this client cannot use.
    static func invalidResponse(status: Int?, _ message: String) -> Self { .init(.invalidResponse, status: status, message) }
    /// The store refused a body that does not match its signed hash (`XAmzContentSHA256Mismatch`, `BadDigest`).
    static func badDigest(_ message: String) -> Self { .init(.badDigest, status: 400, message) }

    /// An object larger than the caller would read.
    static func tooLarge(status: Int?, _ message: String) -> Self { .init(.tooLarge, status: status, message) }

    public var isPreconditionFailed: Bool { code == .preconditionFailed }
    public var isTooLarge: Bool { code == .tooLarge }
    public var isDenied: Bool { code == .denied }
    public var isUnavailable: Bool { code == .unavailable }
    public var isBadDigest: Bool { code == .badDigest }

    public var description: String {
        "object store: \(message)" + (status.map { " (HTTP \($0))" } ?? "")
    }
}
