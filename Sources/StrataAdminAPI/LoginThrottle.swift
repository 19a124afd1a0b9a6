import Foundation
import NIOConcurrencyHelpers

/// Failed sign-ins per client address, as a state machine without I/O: after
/// `allowed` failures within `window`, that address is refused until the window has
/// passed since its first failure. Each burst of failures is told once (the first), so
/// the log shows an attack without one line per guess.
struct LoginThrottle: Sendable {
    enum Decision: Sendable, Equatable {
        case attempt
        /// Refused without checking the token; try again after this many seconds.
        case wait(seconds: Int)
    }

    /// What the owner does after a failed attempt.
    enum Failure: Sendable, Equatable {
        /// The first failure of a burst: log it.
        case firstOfBurst
        /// Counted; already logged.
        case counted(failures: Int)
    }

    let allowed: Int
    let window: TimeInterval
    /// Most addresses tracked (the oldest burst goes first).
    let capacity: Int
    private var bursts: [String: (started: Date, failures: Int)] = [:]

    init(allowed: Int = 5, window: TimeInterval = 60, capacity: Int = 10_000) {
        self.allowed = allowed
        self.window = window
        self.capacity = capacity
    }

    mutating func decide(_ address: String, now: Date) -> Decision {
        guard let burst = bursts[address] else { return .attempt }
        let age = now.timeIntervalSince(burst.started)
        if age >= window || age < 0 {
            bursts[address] = nil
            return .attempt
        }
        return burst.failures >= allowed ? .wait(seconds: max(1, Int((window - age).rounded(.up)))) : .attempt
    }

    mutating func failed(_ address: String, now: Date) -> Failure {
        if var burst = bursts[address], now.timeIntervalSince(burst.started) < window {
            burst.failures += 1
            bursts[address] = burst
            return .counted(failures: burst.failures)
        }
        if bursts.count >= capacity, let oldest = bursts.min(by: { $0.value.started < $1.value.started })?.key { bursts[oldest] = nil }
        bursts[address] = (now, 1)
        return .firstOfBurst
    }

    mutating func succeeded(_ address: String) {
        bursts[address] = nil
    }
}
