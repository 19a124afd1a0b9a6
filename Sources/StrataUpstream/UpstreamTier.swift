import StrataCore

/// One source of content upstream: a mirror tier or the canonical registry.
public struct UpstreamTier: Sendable {
    public let name: TierName
    public let client: RegistryClient

    public init(name: TierName, client: RegistryClient) {
        self.name = name
        self.client = client
    }
}

/// One try of one tier, for the ledger and the logs.
public struct TierAttempt: Sendable, CustomStringConvertible {
    public let tier: TierName
    public let outcome: String
    public let status: Int?
    public let seconds: Double

    public init(tier: TierName, outcome: String, status: Int?, seconds: Double) {
        self.tier = tier
        self.outcome = outcome
        self.status = status
        self.seconds = seconds
    }

    public var description: String {
        "\(tier)=\(outcome)" + (status.map { "(\($0))" } ?? "")
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
        /// True when every tier answered "not found".
        public let allNotFound: Bool
        public let attempts: [TierAttempt]
        public var description: String { attempts.map(\.description).joined(separator: ", ") }
    }

    /// Runs `operation` against each tier in order until one succeeds.
    public func first<T: Sendable>(
        starting index: Int = 0,
        _ operation: (UpstreamTier) async throws(UpstreamError) -> T
    ) async throws(Exhausted) -> (value: T, tierIndex: Int, attempts: [TierAttempt]) {
        var attempts: [TierAttempt] = []
        var allNotFound = true
        var i = index
        while i < tiers.count {
            let tier = tiers[i]
            let start = ContinuousClock.now
            do {
                let value = try await operation(tier)
                attempts.append(TierAttempt(tier: tier.name, outcome: "ok", status: nil, seconds: Self.seconds(since: start)))
                return (value, i, attempts)
            } catch {
                attempts.append(TierAttempt(tier: tier.name, outcome: error.kind.rawValue, status: error.status, seconds: Self.seconds(since: start)))
                if error.kind != .notFound { allNotFound = false }
            }
            i += 1
        }
        throw Exhausted(allNotFound: allNotFound, attempts: attempts)
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
