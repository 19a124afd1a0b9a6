/// Why an upstream request did not produce content. The tier walk decides from its
/// kind whether to move on, and whether the failure counts against the tier; the
/// underlying error (AsyncHTTPClient's, the socket's) travels as `cause` for the log.
public struct UpstreamError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure, as the ledger and the metrics name it. A struct over a
    /// private code, so that a kind can be added without breaking a `switch`.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        private enum Code: String, Sendable {
            case notFound = "not_found", unauthorized, rateLimited = "rate_limited", serverError = "server_error"
            case transport, tooSlow = "too_slow", invalidResponse = "invalid_response", loop, redirectRefused = "redirect_refused", skipped, local
            case upstreamFailed = "upstream_failed"
        }
        private let code: Code
        private init(_ code: Code) { self.code = code }

        /// 404 or a `*_UNKNOWN` error: the tier lacks the content.
        public static let notFound = Kind(.notFound)
        /// 401/403 even after authenticating.
        public static let unauthorized = Kind(.unauthorized)
        /// 429.
        public static let rateLimited = Kind(.rateLimited)
        /// 5xx or another unexpected status.
        public static let serverError = Kind(.serverError)
        /// Connection refused, reset, timed out.
        public static let transport = Kind(.transport)
        /// A body slower than the minimum rate, abandoned (the tier is slow, not broken:
        /// the fill goes on at the next tier rather than asking this one again).
        public static let tooSlow = Kind(.tooSlow)
        /// The answer was malformed (no digest, bad JSON, wrong digest).
        public static let invalidResponse = Kind(.invalidResponse)
        /// The tier is a Strata that works but whose own tiers all failed (its 503 says so
        /// in ``UpstreamFailedHeader``): try the next tier, and count no
        /// failure against this one, which answered.
        public static let upstreamFailed = Kind(.upstreamFailed)
        /// 508: the tier is a Strata that already saw this request (a mirror loop).
        public static let loop = Kind(.loop)
        /// The tier redirected where the redirect policy does not go (a socket, a
        /// link-local or metadata address, a private address from a public tier).
        public static let redirectRefused = Kind(.redirectRefused)
        /// Not asked: the tier's circuit breaker is open.
        public static let skipped = Kind(.skipped)
        /// The attempt stopped for a local reason (the store failed, no client is left):
        /// not the tier's fault, and the walk must not go on to the next tier.
        public static let local = Kind(.local)

        /// The ledger's and the metrics' label: `not_found`, `transport`, ...
        public var description: String { code.rawValue }
    }

    public let kind: Kind
    public let status: Int?
    public let message: String
    /// Seconds from `Retry-After`, for 429.
    public let retryAfter: Double?
    /// The error underneath, when there was one (for the log; never sent to a client).
    public let cause: (any Error & Sendable)?

    public init(_ kind: Kind, status: Int? = nil, _ message: String, retryAfter: Double? = nil, cause: (any Error & Sendable)? = nil) {
        self.kind = kind
        self.status = status
        self.message = message
        self.retryAfter = retryAfter
        self.cause = cause
    }

    public var description: String {
        if let status { return "\(kind) (\(status)): \(message)" }
        return "\(kind): \(message)"
    }
}
