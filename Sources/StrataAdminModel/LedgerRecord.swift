import Foundation

/// One request on the registry port, as the admin server reports it.
public struct LedgerRecord: Sendable, Codable, Equatable {
    public struct Attempt: Sendable, Codable, Equatable {
        public let tier: String
        public let outcome: String
        public let status: Int?
        public let seconds: Double
        /// What went wrong, in words (`GET http://...: connection refused`), for a failed try.
        public let message: String?

        public init(tier: String, outcome: String, status: Int?, seconds: Double, message: String? = nil) {
            self.tier = tier
            self.outcome = outcome
            self.status = status
            self.seconds = seconds
            self.message = message
        }
    }

    public enum Kind: String, Sendable, Codable {
        case manifest, blob, tags, referrers, catalog, base, other
    }

    public var time: Date
    public var client: String
    public var userAgent: String
    public var method: String
    public var path: String
    public var kind: Kind
    public var registry: String?
    public var repository: String?
    public var reference: String?
    public var status: Int
    /// Body bytes sent to the client.
    public var bytes: Int64
    public var seconds: Double
    /// `local`, `shared`, `mirror/<name>`, `canonical`, `stale` or `none`.
    public var tier: String
    /// The tiers end to end, when a Strata upstream reported its own.
    public var tierPath: [String]
    public var attempts: [Attempt]
    /// The error code, for answers that are errors.
    public var error: String?
    /// The Strata instances the request came through (`strata-edge1`), from its `Via`:
    /// which edge asked, when the client address is only a load balancer's or a proxy's.
    public var via: String?

    public init(
        time: Date, client: String, userAgent: String, method: String, path: String, kind: Kind,
        registry: String? = nil, repository: String? = nil, reference: String? = nil,
        status: Int, bytes: Int64, seconds: Double, tier: String, tierPath: [String] = [], attempts: [Attempt] = [], error: String? = nil
    ) {
        self.time = time
        self.client = client
        self.userAgent = userAgent
        self.method = method
        self.path = path
        self.kind = kind
        self.registry = registry
        self.repository = repository
        self.reference = reference
        self.status = status
        self.bytes = bytes
        self.seconds = seconds
        self.tier = tier
        self.tierPath = tierPath
        self.attempts = attempts
        self.error = error
    }

    /// Whether this request was a client's for content (a manifest or a blob) that was
    /// answered: what hit ratios count (a prefetch is the cache's own traffic).
    public var isContentHit: Bool {
        (kind == .manifest || kind == .blob) && (200..<300).contains(status) && !isPrefetch
    }

    /// Recorded by a prefetch, not by a client's request.
    public var isPrefetch: Bool { client == "prefetch" }
}
