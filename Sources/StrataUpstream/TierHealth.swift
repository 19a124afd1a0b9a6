import Foundation
import NIOConcurrencyHelpers
import StrataCore

/// What Strata knows about one tier's health: its breaker, its last error, whether its
/// credentials were refused, its latency, and Docker Hub's remaining rate limit.
public final class TierHealth: Sendable {
    public struct Snapshot: Sendable {
        public let breaker: String
        public let lastError: String?
        public let lastErrorAt: Date?
        public let misconfigured: Bool
        /// Smoothed seconds per answered request.
        public let latency: Double?
        /// The last `ratelimit-remaining` the tier reported.
        public let rateLimitRemaining: String?
        /// The last `ratelimit-limit` the tier reported.
        public let rateLimitLimit: String?
        public let successes: Int
        public let failures: Int
    }

    private struct State {
        var breaker: CircuitBreaker
        var lastError: String?
        var lastErrorAt: Date?
        var misconfigured = false
        var latency: Double?
        var rateLimitRemaining: String?
        var rateLimitLimit: String?
        var successes = 0
        var failures = 0
    }

    private let state: NIOLockedValueBox<State>
    private let now: @Sendable () -> Date

    public init(breaker: CircuitBreaker = CircuitBreaker(), now: @escaping @Sendable () -> Date = Date.init) {
        self.state = NIOLockedValueBox(State(breaker: breaker))
        self.now = now
    }

    /// Seconds until an open breaker lets a request through again (at least 1); nil when
    /// it is not open.
    public var secondsUntilReopen: Double? {
        let time = now()
        return state.withLockedValue { state in
            if case .open(let until) = state.breaker.state { return max(1, until.timeIntervalSince(time)) }
            return nil
        }
    }

    public var snapshot: Snapshot {
        state.withLockedValue {
            Snapshot(breaker: $0.breaker.label, lastError: $0.lastError, lastErrorAt: $0.lastErrorAt, misconfigured: $0.misconfigured,
                     latency: $0.latency, rateLimitRemaining: $0.rateLimitRemaining, rateLimitLimit: $0.rateLimitLimit, successes: $0.successes, failures: $0.failures)
        }
    }

    func decide() -> CircuitBreaker.Decision {
        let time = now()
        return state.withLockedValue { $0.breaker.decide(now: time) }
    }

    /// Records how a request to the tier ended. `error` nil means it answered with content.
    func record(_ error: UpstreamError?, seconds: Double) {
        let time = now()
        state.withLockedValue { s in
            guard let error else {
                s.breaker.succeeded()
                s.successes += 1
                s.misconfigured = false
                s.latency = s.latency.map { $0 * 0.8 + seconds * 0.2 } ?? seconds
                return
            }
            switch error.kind {
            case .notFound, .loop:
                // The tier works; it just lacks the content, or would loop.
                s.breaker.succeeded()
                s.successes += 1
                s.latency = s.latency.map { $0 * 0.8 + seconds * 0.2 } ?? seconds
            case .unauthorized:
                s.breaker.succeeded()
                s.misconfigured = true
                s.lastError = error.description
                s.lastErrorAt = time
            case .rateLimited:
                s.breaker.rateLimited(now: time, retryAfter: error.retryAfter)
                s.failures += 1
                s.lastError = error.description
                s.lastErrorAt = time
            case .serverError, .transport, .tooSlow, .invalidResponse, .redirectRefused:
                s.breaker.failed(now: time)
                s.failures += 1
                s.lastError = error.description
                s.lastErrorAt = time
            default:
                // Skipped, or stopped for a local reason: not the tier's doing.
                break
            }
        }
    }

    func abandoned() {
        state.withLockedValue { $0.breaker.probeAbandoned() }
    }

    /// Records the tier's rate-limit headers (`76;w=21600`), kept short: they are an upstream's words.
    public func rateLimit(limit: String?, remaining: String?) {
        state.withLockedValue { s in
            if let remaining { s.rateLimitRemaining = String(remaining.prefix(64)) }
            if let limit { s.rateLimitLimit = String(limit.prefix(64)) }
        }
    }
}
