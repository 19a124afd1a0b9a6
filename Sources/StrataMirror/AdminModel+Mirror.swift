@_exported import StrataAdminModel
import StrataUpstream

// The admin answers live in StrataAdminModel, so that the command line decodes them
// without importing the engine; here they keep the names the engine gave them.

extension LedgerRecord.Attempt {
    /// A tier attempt, as the ledger reports it.
    public init(_ attempt: TierAttempt) {
        self.init(tier: attempt.tier.description, outcome: attempt.outcome.description, status: attempt.status, seconds: attempt.seconds,
                  message: attempt.outcome == .ok ? nil : attempt.message)
    }
}

extension Ledger {
    public typealias Stats = LedgerStats
}

extension MirrorEngine {
    public typealias TierStatus = StrataAdminModel.TierStatus
    public typealias CachedTag = StrataAdminModel.CachedTag
    public typealias CachedRepository = StrataAdminModel.CachedRepository
    public typealias CacheSummary = StrataAdminModel.CacheSummary
}

extension Prefetcher {
    public typealias Event = PrefetchEvent
    public typealias Summary = PrefetchSummary
}
