import Foundation

/// One tier of one registry, as `GET /api/tiers` reports it.
public struct TierStatus: Sendable, Codable, Equatable {
    public let name: String
    public let registry: String
    public let url: String
    public let breaker: String
    public let lastError: String?
    public let lastErrorAt: Date?
    public let misconfigured: Bool
    public let latencySeconds: Double?
    public let rateLimitRemaining: String?
    public let successes: Int
    public let failures: Int

    public init(name: String, registry: String, url: String, breaker: String, lastError: String?, lastErrorAt: Date?,
                misconfigured: Bool, latencySeconds: Double?, rateLimitRemaining: String?, successes: Int, failures: Int) {
        self.name = name
        self.registry = registry
        self.url = url
        self.breaker = breaker
        self.lastError = lastError
        self.lastErrorAt = lastErrorAt
        self.misconfigured = misconfigured
        self.latencySeconds = latencySeconds
        self.rateLimitRemaining = rateLimitRemaining
        self.successes = successes
        self.failures = failures
    }
}
