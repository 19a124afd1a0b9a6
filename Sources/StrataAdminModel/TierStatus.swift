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
    public let rateLimitLimit: String?
    public let successes: Int
    public let failures: Int

    public init(name: String, registry: String, url: String, breaker: String, lastError: String?, lastErrorAt: Date?,
                misconfigured: Bool, latencySeconds: Double?, rateLimitRemaining: String?, rateLimitLimit: String? = nil, successes: Int, failures: Int) {
        self.rateLimitLimit = rateLimitLimit
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

extension TierStatus {
    /// `76 of 100` from `76;w=21600` and `100;w=21600`: the pulls left in the tier's
    /// window, as its last answer said; empty when it never said.
    public var rateLimitBudget: String {
        func count(_ text: String?) -> String? {
            guard let digits = text.map({ String($0.prefix { $0.isNumber }.prefix(12)) }), !digits.isEmpty else { return nil }
            return digits
        }
        switch (count(rateLimitRemaining), count(rateLimitLimit)) {
        case (let left?, let limit?): return "\(left) of \(limit)"
        case (let left?, nil): return left
        default: return ""
        }
    }
}
