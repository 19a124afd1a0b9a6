import Foundation
import StrataUpstream

/// What the engine needs to know: the tier chains per registry, and the freshness rules.
public struct MirrorConfiguration: Sendable {
    /// How long a cached tag is served without asking upstream.
    public var tagTTL: TimeInterval
    /// Never contact a tier; serve only what is cached.
    public var cacheOnly: Bool
    /// The registry a request belongs to when it names none (no `?ns=`).
    public var defaultRegistry: String
    /// The ordered tiers for each registry: mirrors first, canonical last.
    public var chains: [String: TierChain]
    /// How long "not found in any tier" is remembered.
    public var negativeTTL: TimeInterval
    /// When a cold blob is fetched with several ranged GETs at once.
    public var rangedFill: RangedFillSettings
    /// How long a referrers list is served without asking upstream.
    public var referrersTTL: TimeInterval
    /// A tag every tier says is gone keeps being served (as stale) instead of answering `404`.
    public var keepDeletedTags: Bool

    public init(tagTTL: TimeInterval = 600, cacheOnly: Bool = false, defaultRegistry: String = "docker.io",
                chains: [String: TierChain], negativeTTL: TimeInterval = 30, keepDeletedTags: Bool = false,
                referrersTTL: TimeInterval = 60, rangedFill: RangedFillSettings = RangedFillSettings()) {
        self.rangedFill = rangedFill
        self.referrersTTL = referrersTTL
        self.keepDeletedTags = keepDeletedTags
        self.tagTTL = tagTTL
        self.cacheOnly = cacheOnly
        self.defaultRegistry = defaultRegistry
        self.chains = chains
        self.negativeTTL = negativeTTL
    }
}
