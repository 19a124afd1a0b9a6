import StrataCore

/// One source of content upstream: a mirror tier or the canonical registry.
public struct UpstreamTier: Sendable {
    public let name: TierName
    public let client: any ContentSource
    public let health: TierHealth

    public init(name: TierName, client: any ContentSource, health: TierHealth = TierHealth()) {
        self.name = name
        self.client = client
        self.health = health
    }

    /// Runs one request against this tier, unless its breaker says to skip it, and
    /// records the outcome in its health.
    public func run<T: Sendable>(_ operation: (UpstreamTier) async throws(UpstreamError) -> T) async -> (Result<T, UpstreamError>, TierAttempt) {
        let start = ContinuousClock.now
        if health.decide() == .skip {
            let last = health.snapshot.lastError.map { "; last error: \($0)" } ?? ""
            let error = UpstreamError(.skipped, "\(name) skipped: its circuit breaker is open after repeated failures\(last)")
            let wait = health.secondsUntilReopen
            return (.failure(error), TierAttempt(tier: name, outcome: .failed(error.kind), status: nil, seconds: 0, message: error.message, retryAfter: wait))
        }
        do {
            let value = try await operation(self)
            let seconds = (ContinuousClock.now - start).inSeconds
            health.record(nil, seconds: seconds)
            return (.success(value), TierAttempt(tier: name, outcome: .ok, status: nil, seconds: seconds))
        } catch {
            let seconds = (ContinuousClock.now - start).inSeconds
            if Task.isCancelled && error.kind == .transport {
                health.abandoned()
            } else {
                health.record(error, seconds: seconds)
            }
            return (.failure(error), TierAttempt(tier: name, outcome: .failed(error.kind), status: error.status, seconds: seconds, message: error.message))
        }
    }
}

extension UpstreamTier {
    /// Bytes this tier delivered for `digest` failed verification after the walk took
    /// them: a failure of the tier (its breaker counts it), and its source is told.
    public func deliveredBadBytes(_ digest: Digest, _ why: String) async {
        health.record(UpstreamError(.invalidResponse, "\(digest) failed verification: \(why)"), seconds: 0)
        await client.deliveredBadBytes(digest)
    }
}

/// One try of one tier, for the ledger and the logs.
public struct TierAttempt: Sendable, CustomStringConvertible {
    public let tier: TierName
    public let outcome: Outcome
    public let status: Int?
    public let seconds: Double
    public let message: String?
    /// For a tier skipped while its breaker is open: seconds until it is asked again.
    public let retryAfter: Double?

    /// How one try of one tier ended.
    public enum Outcome: Sendable, Hashable, CustomStringConvertible {
        case ok
        case failed(UpstreamError.Kind)

        /// `ok`, or the error kind's name: the ledger's and the metrics' label.
        public var description: String {
            switch self {
            case .ok: "ok"
            case .failed(let kind): kind.description
            }
        }
    }

    public init(tier: TierName, outcome: Outcome, status: Int?, seconds: Double, message: String? = nil, retryAfter: Double? = nil) {
        self.tier = tier
        self.outcome = outcome
        self.status = status
        self.seconds = seconds
        self.message = message
        self.retryAfter = retryAfter
    }

    /// Two steps of one request (a tag's `HEAD`, then the manifest's `GET` from the tier
    /// that answered it) as one list in which each tier appears once: the first step's
    /// `ok` from a tier that the second step asked again is folded into that attempt.
    public static func joined(_ first: [TierAttempt], _ second: [TierAttempt]) -> [TierAttempt] {
        guard let last = first.last, last.outcome == .ok, let next = second.first, next.tier == last.tier else { return first + second }
        let folded = TierAttempt(tier: next.tier, outcome: next.outcome, status: next.status, seconds: last.seconds + next.seconds,
                                 message: next.message, retryAfter: next.retryAfter)
        return first.dropLast() + [folded] + second.dropFirst()
    }

    public var description: String {
        var why = outcome == .failed(.skipped) ? " (circuit breaker open after repeated failures)" : ""
        // What a Strata tier said of its own tiers: the chain, end to end.
        if outcome == .failed(.upstreamFailed), let message, !message.isEmpty { why = " [\(message)]" }
        return "\(tier)=\(outcome)" + (status.map { "(\($0))" } ?? "") + why
    }
}

/// The ordered tiers for one registry: the mirrors, then the canonical registry.
///
/// A tier that answers "not found" or fails is passed over for the next. The walk ends
/// with the first tier that answers, or with `notFound` when every tier said so, or
/// with the failure when any tier failed (so a failing chain is not reported as 404).
public struct TierChain: Sendable {
    public let tiers: [UpstreamTier]

    public init(_ tiers: [UpstreamTier]) {
        self.tiers = tiers
    }

    public struct Exhausted: Error, Sendable, CustomStringConvertible {
        public let attempts: [TierAttempt]

        public init(attempts: [TierAttempt]) {
            self.attempts = attempts
        }

        /// Every tier that was asked said "not found" (a tier that would loop counts as
        /// not having it). False for an empty chain.
        public var allNotFound: Bool {
            !attempts.isEmpty && attempts.allSatisfy { $0.outcome == .failed(.notFound) || $0.outcome == .failed(.loop) }
        }

        /// Some tier refused our credentials, and none failed otherwise.
        public var refused: Bool {
            attempts.contains { $0.outcome == .failed(.unauthorized) }
                && attempts.allSatisfy { [.failed(.notFound), .failed(.loop), .failed(.unauthorized)].contains($0.outcome) }
        }

        public var description: String { attempts.map(\.description).joined(separator: ", ") }
    }

    /// Runs `operation` against each tier in order, from `index`, until one succeeds.
    public func first<T: Sendable>(
        starting index: Int = 0,
        _ operation: (UpstreamTier) async throws(UpstreamError) -> T
    ) async throws(Exhausted) -> (value: T, tierIndex: Int, attempts: [TierAttempt]) {
        var attempts: [TierAttempt] = []
        for i in tiers.indices where i >= index {
            let (result, attempt) = await tiers[i].run(operation)
            attempts.append(attempt)
            if case .success(let value) = result { return (value, i, attempts) }
        }
        throw Exhausted(attempts: attempts)
    }
}
