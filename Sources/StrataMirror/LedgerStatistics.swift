import Foundation
import StrataAdminModel

/// Per-tier request and byte counts, since start and in one-minute buckets for the
/// last day; per-repository hit counts; what prefetches brought. Not thread-safe: the
/// ``Ledger`` owns it under its lock.
struct LedgerStatistics {
    struct Counts: Sendable, Equatable, Codable {
        var requests = 0
        var bytes: Int64 = 0
        var contentRequests = 0
        /// `GET /v2/` version checks (clients send one before every pull).
        var pings = 0
        /// Manifests and blobs a prefetch brought, and their bytes.
        var prefetched = 0
        var prefetchedBytes: Int64 = 0

        mutating func add(_ record: LedgerRecord) {
            requests += 1
            bytes += record.bytes
            if record.isContentHit { contentRequests += 1 }
            if record.kind == .base { pings += 1 }
            if record.isPrefetch {
                prefetched += 1
                prefetchedBytes += record.bytes
            }
        }

        static func + (a: Counts, b: Counts) -> Counts {
            Counts(requests: a.requests + b.requests, bytes: a.bytes + b.bytes, contentRequests: a.contentRequests + b.contentRequests,
                   pings: a.pings + b.pings, prefetched: a.prefetched + b.prefetched, prefetchedBytes: a.prefetchedBytes + b.prefetchedBytes)
        }
    }

    /// A repository's client requests for content, and how many the cache answered.
    struct RepositoryCounts: Sendable, Equatable {
        var requests = 0
        var hits = 0
        var bytes: Int64 = 0
    }

    /// Minutes of history kept: a day.
    static let minutesKept = 1440
    /// Repositories counted; past this, the least requested half is forgotten.
    static let repositoriesKept = 10_000

    private(set) var total: [String: Counts] = [:]
    /// minute index (seconds since 1970 / 60) → tier → counts; at most a day kept.
    private var minutes: [Int: [String: Counts]] = [:]
    private(set) var repositories: [String: RepositoryCounts] = [:]
    private(set) var lastPrefetch: Date?

    mutating func add(_ record: LedgerRecord) {
        total[record.tier, default: Counts()].add(record)
        let minute = Int(record.time.timeIntervalSince1970 / 60)
        minutes[minute, default: [:]][record.tier, default: Counts()].add(record)
        if minutes.count > Self.minutesKept + 1 {
            minutes = minutes.filter { $0.key > minute - Self.minutesKept }
        }
        if record.isPrefetch { lastPrefetch = max(lastPrefetch ?? record.time, record.time) }
        if record.isContentHit, let repository = record.repository {
            let key = (record.registry.map { $0 + "/" } ?? "") + repository
            var counts = repositories[key, default: RepositoryCounts()]
            counts.requests += 1
            if record.tier == "local" || record.tier == "stale" { counts.hits += 1 }
            counts.bytes += record.bytes
            repositories[key] = counts
            if repositories.count > Self.repositoriesKept {
                let keep = repositories.sorted { $0.value.requests > $1.value.requests }.prefix(Self.repositoriesKept / 2)
                repositories = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
            }
        }
    }

    /// Counts over the last `window` seconds (rounded to whole minutes) before `now`.
    func window(_ window: TimeInterval, now: Date) -> [String: Counts] {
        let current = Int(now.timeIntervalSince1970 / 60)
        let first = current - Int((window / 60).rounded(.up)) + 1
        var out: [String: Counts] = [:]
        for (minute, tiers) in minutes where minute >= first && minute <= current {
            for (tier, counts) in tiers { out[tier] = (out[tier] ?? Counts()) + counts }
        }
        return out
    }

    /// `buckets` buckets of `bucketMinutes` each, oldest first, the last one ending now.
    func series(bucketMinutes: Int, buckets: Int, now: Date) -> [[String: Counts]] {
        let current = Int(now.timeIntervalSince1970 / 60)
        let first = current - bucketMinutes * buckets + 1
        var out = Array(repeating: [String: Counts](), count: buckets)
        for (minute, tiers) in minutes where minute >= first && minute <= current {
            let index = (minute - first) / bucketMinutes
            for (tier, counts) in tiers { out[index][tier] = (out[index][tier] ?? Counts()) + counts }
        }
        return out
    }
}
