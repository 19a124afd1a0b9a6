import Foundation

/// A tier's circuit breaker, as a state machine without I/O.
///
/// `closed` counts consecutive failures; at `failureThreshold` it opens, and the tier
/// is skipped until `coolOff` has passed. Then it is `halfOpen`: one request probes
/// the tier while the others still skip it. A success closes the breaker, a failure
/// opens it again. A 429 opens it for the `Retry-After` the tier asked for.
public struct CircuitBreaker: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case closed(failures: Int)
        case open(until: Date)
        case halfOpen(probing: Bool)
    }

    public enum Decision: Sendable, Equatable {
        /// Use the tier.
        case attempt
        /// Use the tier as the one probe of a half-open breaker.
        case probe
        /// Skip the tier: it is open, or another request is probing it.
        case skip
    }

    public let failureThreshold: Int
    public let coolOff: TimeInterval
    public private(set) var state: State = .closed(failures: 0)

    public init(failureThreshold: Int = 3, coolOff: TimeInterval = 30) {
        self.failureThreshold = max(1, failureThreshold)
        self.coolOff = coolOff
    }

    /// Decides whether a request may use the tier now.
    public mutating func decide(now: Date) -> Decision {
        switch state {
        case .closed:
            return .attempt
        case .open(let until):
            guard now >= until else { return .skip }
            state = .halfOpen(probing: true)
            return .probe
        case .halfOpen(let probing):
            if probing { return .skip }
            state = .halfOpen(probing: true)
            return .probe
        }
    }

    /// The tier answered (found or not found: either way it works).
    public mutating func succeeded() {
        state = .closed(failures: 0)
    }

    /// The tier failed: 5xx, timeout, refused, reset.
    public mutating func failed(now: Date) {
        switch state {
        case .closed(let failures):
            state = failures + 1 >= failureThreshold ? .open(until: now.addingTimeInterval(coolOff)) : .closed(failures: failures + 1)
        case .halfOpen:
            state = .open(until: now.addingTimeInterval(coolOff))
        case .open:
            break
        }
    }

    /// The tier asked us to back off (429 with `Retry-After`, or the cool-off without one).
    public mutating func rateLimited(now: Date, retryAfter: TimeInterval?) {
        state = .open(until: now.addingTimeInterval(retryAfter ?? coolOff))
    }

    /// The probe ended without an answer either way (the request was cancelled).
    public mutating func probeAbandoned() {
        if case .halfOpen = state { state = .halfOpen(probing: false) }
    }

    /// A short name for the admin API and metrics.
    public var label: String {
        switch state {
        case .closed: "closed"
        case .open: "open"
        case .halfOpen: "half-open"
        }
    }
}
