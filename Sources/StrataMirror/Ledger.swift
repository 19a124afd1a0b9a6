import Foundation
import NIOConcurrencyHelpers

/// The admin server's record of which tier served each request: a bounded ring of
/// recent records and per-tier counts.
///
/// Recording takes a lock for a few assignments and never does I/O; observers (the
/// metrics, the access log) get each record after the lock is released.
public final class Ledger: Sendable {
    private struct State {
        var ring: [LedgerRecord] = []
        var next = 0
        var statistics = LedgerStatistics()
    }

    public let capacity: Int
    public let startedAt: Date
    private let state = NIOLockedValueBox(State())
    private let observers: NIOLockedValueBox<[@Sendable (LedgerRecord) -> Void]> = .init([])
    private let now: @Sendable () -> Date

    public init(capacity: Int = 10_000, now: @escaping @Sendable () -> Date = Date.init) {
        self.capacity = max(1, capacity)
        self.now = now
        self.startedAt = now()
    }

    /// Calls `observer` with every record from now on (outside the ledger's lock).
    public func observe(_ observer: @escaping @Sendable (LedgerRecord) -> Void) {
        observers.withLockedValue { $0.append(observer) }
    }

    public func record(_ record: LedgerRecord) {
        let capacity = self.capacity
        state.withLockedValue { s in
            if s.ring.count < capacity {
                s.ring.append(record)
            } else {
                s.ring[s.next] = record
            }
            s.next = (s.next + 1) % capacity
            s.statistics.add(record)
        }
        for observer in observers.withLockedValue({ $0 }) { observer(record) }
    }

    /// Recent records, newest first, filtered.
    public func recent(limit: Int = 100, tier: String? = nil, repository: String? = nil, since: Date? = nil) -> [LedgerRecord] {
        let ordered = state.withLockedValue { s -> [LedgerRecord] in
            s.ring.count < capacity ? s.ring : Array(s.ring[s.next...] + s.ring[..<s.next])
        }
        var out: [LedgerRecord] = []
        for record in ordered.reversed() {
            if let tier, record.tier != tier { continue }
            if let repository, record.repository != repository { continue }
            if let since, record.time <= since { continue }
            out.append(record)
            if out.count >= limit { break }
        }
        return out
    }

    public func stats() -> Stats {
        let time = now()
        let (total, five, hour) = state.withLockedValue { s in
            (s.statistics.total, s.statistics.window(300, now: time), s.statistics.window(3600, now: time))
        }
        return Stats(since: startedAt, total: Self.window(total), last5m: Self.window(five), last1h: Self.window(hour))
    }

    /// Requests and bytes per tier in `buckets` buckets of `bucketMinutes`, oldest first
    /// (for the dashboard's charts). Prefetches are counted in their tier.
    public func series(bucketMinutes: Int, buckets: Int) -> [TrafficBucket] {
        let time = now()
        let raw = state.withLockedValue { $0.statistics.series(bucketMinutes: bucketMinutes, buckets: buckets, now: time) }
        let end = (time.timeIntervalSince1970 / 60).rounded(.down) * 60 + 60
        return raw.enumerated().map { index, tiers in
            TrafficBucket(start: Date(timeIntervalSince1970: end - Double((buckets - index) * bucketMinutes * 60)),
                          tiers: tiers.mapValues { TrafficBucket.Tier(requests: $0.requests, bytes: $0.bytes) })
        }
    }

    /// The most requested repositories (clients' content requests), with how many the cache answered.
    public func topRepositories(limit: Int) -> [RepositoryTraffic] {
        let all = state.withLockedValue { $0.statistics.repositories }
        return all.sorted { ($0.value.requests, $1.key) > ($1.value.requests, $0.key) }.prefix(limit).map {
            RepositoryTraffic(repository: $0.key, requests: $0.value.requests, hits: $0.value.hits, bytes: $0.value.bytes)
        }
    }

    /// What prefetches brought over the last hour and day, and when the last one did.
    public func prefetchActivity() -> PrefetchActivity {
        let time = now()
        let (hour, day, last) = state.withLockedValue { s in
            (s.statistics.window(3600, now: time).values.reduce(LedgerStatistics.Counts(), +),
             s.statistics.window(86400, now: time).values.reduce(LedgerStatistics.Counts(), +), s.statistics.lastPrefetch)
        }
        return PrefetchActivity(lastHour: hour.prefetched, lastHourBytes: hour.prefetchedBytes, lastDay: day.prefetched,
                                lastDayBytes: day.prefetchedBytes, last: last)
    }

    private static func window(_ counts: [String: LedgerStatistics.Counts]) -> Stats.Window {
        let content = counts.values.reduce(0) { $0 + $1.contentRequests }
        let hits = (counts["local"]?.contentRequests ?? 0) + (counts["stale"]?.contentRequests ?? 0)
        return Stats.Window(
            tiers: counts.mapValues { Stats.Window.Tier(requests: $0.requests, bytes: $0.bytes) },
            requests: counts.values.reduce(0) { $0 + $1.requests },
            bytes: counts.values.reduce(0) { $0 + $1.bytes },
            hitRatio: content > 0 ? Double(hits) / Double(content) : nil,
            upstreamBytesSaved: (counts["local"]?.bytes ?? 0) + (counts["stale"]?.bytes ?? 0),
            pings: counts.values.reduce(0) { $0 + $1.pings })
    }
}
