import Foundation
import StrataCore
import StrataStore
import StrataUpstream

/// What the admin server shows about tiers and cached content.
extension MirrorEngine {
    /// Every tier of every registry, in walk order.
    public func tierStatus() -> [TierStatus] {
        configuration.chains.keys.sorted().flatMap { registry in
            (configuration.chains[registry]?.tiers ?? []).map { tier in
                let health = tier.health.snapshot
                return TierStatus(
                    name: tier.name.description, registry: registry, url: tier.client.location,
                    // In cache-only mode no tier is asked: its breaker says nothing.
                    breaker: configuration.cacheOnly ? "off (cache-only)" : health.breaker,
                    lastError: health.lastError, lastErrorAt: health.lastErrorAt, misconfigured: health.misconfigured,
                    latencySeconds: health.latency, rateLimitRemaining: health.rateLimitRemaining, rateLimitLimit: health.rateLimitLimit,
                    successes: health.successes, failures: health.failures)
            }
        }
    }
}
