import Foundation
import NIOConcurrencyHelpers
import Prometheus
import StrataMirror

/// Prometheus metrics, fed by the ledger, plus gauges read at scrape time.
public final class StrataMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let engine: MirrorEngine
    private let inventory: any CacheInventory
    private let durations: DurationHistogram
    private let storeDurations: DurationHistogram

    /// The cache's bound, for `strata_cache_max_bytes`.
    let maxCacheBytes: Int64?

    public init(engine: MirrorEngine, inventory: any CacheInventory, ledger: Ledger, maxCacheBytes: Int64? = nil) {
        self.maxCacheBytes = maxCacheBytes
        self.engine = engine
        self.inventory = inventory
        self.durations = registry.makeDurationHistogram(
            name: "strata_request_duration_seconds",
            buckets: [.milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(500),
                      .seconds(2), .seconds(10), .seconds(60)],
            help: "Time from request to the last byte of the answer.")
        self.storeDurations = registry.makeDurationHistogram(
            name: "strata_shared_store_request_duration_seconds",
            buckets: [.milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(500), .seconds(2), .seconds(10)],
            help: "Time to the head of the shared object store's answer.")
        // Counters by label set, looked up once: the registry's own lookup builds keys per call.
        let counters = NIOLockedValueBox([String: (requests: Counter, bytes: Counter)]())
        ledger.observe { [registry, durations] record in
            let status = "\(record.status / 100)xx"
            let key = "\(record.tier)|\(record.kind.rawValue)|\(status)"
            let pair = counters.withLockedValue { table in
                if let pair = table[key] { return pair }
                let pair = (
                    registry.makeCounter(name: "strata_requests_total",
                                         labels: [("tier", record.tier), ("kind", record.kind.rawValue), ("status", status)],
                                         help: "Requests on the registry port, by the tier that served them."),
                    registry.makeCounter(name: "strata_served_bytes_total", labels: [("tier", record.tier)],
                                         help: "Body bytes sent to clients, by the tier that served them."))
                table[key] = pair
                return pair
            }
            pair.requests.increment()
            pair.bytes.increment(by: record.bytes)
            for attempt in record.attempts {
                registry.makeCounter(name: "strata_upstream_attempts_total", labels: [("tier", attempt.tier), ("outcome", attempt.outcome)],
                                     help: "Requests to upstream tiers, by outcome.").increment()
            }
            durations.recordNanoseconds(Int64(record.seconds * 1e9))
        }
    }

    /// One request to the shared object store (`store.s3`).
    public func recordObjectStore(method: String, outcome: String, seconds: Double, sent: Int64, received: Int64) {
        registry.makeCounter(name: "strata_shared_store_requests_total", labels: [("method", method), ("outcome", outcome)],
                             help: "Requests to the shared object store, by method and outcome.").increment()
        if sent > 0 {
            registry.makeCounter(name: "strata_shared_store_bytes_total", labels: [("direction", "sent")],
                                 help: "Body bytes sent to and received from the shared object store.").increment(by: sent)
        }
        if received > 0 {
            registry.makeCounter(name: "strata_shared_store_bytes_total", labels: [("direction", "received")],
                                 help: "Body bytes sent to and received from the shared object store.").increment(by: received)
        }
        storeDurations.recordNanoseconds(Int64(seconds * 1e9))
    }

    /// The metrics in Prometheus text format.
    public func render() -> String {
        registry.makeGauge(name: "strata_fills_in_flight", help: "Blob fills running now.").set(to: Double(engine.fillsInFlight))
        for tier in engine.tierStatus() {
            registry.makeGauge(name: "strata_tier_breaker_open", labels: [("tier", tier.name), ("registry", tier.registry)],
                               help: "1 when the tier's circuit breaker is open or half-open.").set(to: ["open", "half-open"].contains(tier.breaker) ? 1.0 : 0.0)
            // Docker Hub's `ratelimit-remaining: 76;w=21600`: the pulls left in the window.
            if let text = tier.rateLimitRemaining, let remaining = Int(text.prefix { $0.isNumber }.prefix(12)) {
                registry.makeGauge(name: "strata_tier_ratelimit_remaining", labels: [("tier", tier.name), ("registry", tier.registry)],
                                   help: "Pulls left in the tier's rate-limit window, as its last answer said.").set(to: Double(remaining))
            }
            if let text = tier.rateLimitLimit, let limit = Int(text.prefix { $0.isNumber }.prefix(12)) {
                registry.makeGauge(name: "strata_tier_ratelimit_limit", labels: [("tier", tier.name), ("registry", tier.registry)],
                                   help: "Pulls allowed in the tier's rate-limit window, as its last answer said.").set(to: Double(limit))
            }
        }
        if let summary = try? inventory.storedBytes() {
            registry.makeGauge(name: "strata_cache_stored_bytes", help: "Bytes of blobs on disk.").set(to: Double(summary.stored))
            registry.makeGauge(name: "strata_cache_blobs", help: "Blobs in the cache.").set(to: Double(summary.count))
        }
        if let maxCacheBytes {
            registry.makeGauge(name: "strata_cache_max_bytes", help: "The cache's bound (cache.max_size).").set(to: Double(maxCacheBytes))
        }
        return registry.emitToString()
    }
}
