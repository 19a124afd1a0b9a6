/// Why an upstream request did not produce content. The tier walk decides from this
/// whether to move on, and whether the failure counts against the tier.
public struct UpstreamError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// 404 or a `*_UNKNOWN` error: the tier lacks the content.
        case notFound = "not_found"
        /// 401/403 even after authenticating.
        case unauthorized
        /// 429.
        case rateLimited = "rate_limited"
        /// 5xx or another unexpected status.
        case serverError = "server_error"
        /// Connection refused, reset, timed out.
        case transport
        /// The answer was malformed (no digest, bad JSON, wrong digest).
        case invalidResponse = "invalid_response"
        /// 508: the tier is a Strata that already saw this request (a mirror loop).
        case loop
        /// The tier redirected where the redirect policy does not go (a socket, a
        /// link-local or metadata address, a private address from a public tier).
        case redirectRefused = "redirect_refused"
        /// Not asked: the tier's circuit breaker is open.
        case skipped
        /// The attempt stopped for a local reason (the store failed, no client is left):
        /// not the tier's fault, and the walk must not go on to the next tier.
        case local
    }

    public let kind: Kind
    public let status: Int?
    public let message: String
    /// Seconds from `Retry-After`, for 429.
    public let retryAfter: Double?

    public init(_ kind: Kind, status: Int? = nil, _ message: String, retryAfter: Double? = nil) {
        self.kind = kind
        self.status = status
        self.message = message
        self.retryAfter = retryAfter
    }

    public var description: String {
        if let status { return "\(kind.rawValue) (\(status)): \(message)" }
        return "\(kind.rawValue): \(message)"
    }
}
