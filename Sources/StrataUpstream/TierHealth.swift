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

    /// A change of the breaker worth a line in the server log.
    public enum BreakerEvent: Sendable, Equatable {
        /// It opened: the tier failed `failureThreshold` times in a row (or asked to back
        /// off); it is skipped for `coolOff` seconds, then probed.
        case opened(lastError: String?, coolOff: Double)
        /// A probe answered: the tier is used again, after `downFor` seconds.
        case closed(downFor: Double)
        /// Still open (probes keep failing), at most once a minute: for how long, and how
        /// many requests skipped the tier since the last such line.
        case stillOpen(downFor: Double, lastError: String?, skipped: Int)
    }

    /// How often ``BreakerEvent/stillOpen(downFor:lastError:skipped:)`` may be told.
    public static let summaryInterval: TimeInterval = 60

    private struct State {
        var breaker: CircuitBreaker
        /// When the breaker opened from closed; nil while it is closed.
        var downSince: Date?
        var lastSummaryAt: Date?
        var skippedSinceSummary = 0
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
    private let observer: (@Sendable (BreakerEvent) -> Void)?

    /// `observer` hears each breaker transition once (the server logs them), outside the lock.
    public init(breaker: CircuitBreaker = CircuitBreaker(), now: @escaping @Sendable () -> Date = Date.init,
                observer: (@Sendable (BreakerEvent) -> Void)? = nil) {
        self.state = NIOLockedValueBox(State(breaker: breaker))
        self.now = now
        self.observer = observer
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
        let (decision, event) = state.withLockedValue { s -> (CircuitBreaker.Decision, BreakerEvent?) in
            let decision = s.breaker.decide(now: time)
            guard decision == .skip, let since = s.downSince else { return (decision, nil) }
            s.skippedSinceSummary += 1
            guard time.timeIntervalSince(s.lastSummaryAt ?? since) >= Self.summaryInterval else { return (decision, nil) }
            defer { s.lastSummaryAt = time; s.skippedSinceSummary = 0 }
            return (decision, .stillOpen(downFor: time.timeIntervalSince(since), lastError: s.lastError, skipped: s.skippedSinceSummary))
        }
        if let event { observer?(event) }
        return decision
    }

    /// Records how a request to the tier ended. `error` nil means it answered with content.
    func record(_ error: UpstreamError?, seconds: Double) {
        let time = now()
        let event = state.withLockedValue { s -> BreakerEvent? in
            let wasClosed = if case .closed = s.breaker.state { true } else { false }
            Self.apply(error, seconds: seconds, at: time, to: &s)
            switch s.breaker.state {
            case .open(let until) where wasClosed:
                s.downSince = time
                s.lastSummaryAt = time
                s.skippedSinceSummary = 0
                return .opened(lastError: s.lastError, coolOff: until.timeIntervalSince(time))
            case .closed where s.downSince != nil:
                defer { s.downSince = nil }
                return .closed(downFor: time.timeIntervalSince(s.downSince ?? time))
            default:
                return nil
            }
        }
        if let event { observer?(event) }
    }

    private static func apply(_ error: UpstreamError?, seconds: Double, at time: Date, to s: inout State) {
        guard let error else {
            s.breaker.succeeded()
            s.successes += 1
            s.misconfigured = false
            s.latency = s.latency.map { $0 * 0.8 + seconds * 0.2 } ?? seconds
            return
        }
        switch error.kind {
        case .notFound, .loop, .upstreamFailed:
            // The tier works; it just lacks the content, would loop, or its own
            // upstreams failed (a Strata that says so is up: asking it again is right).
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
