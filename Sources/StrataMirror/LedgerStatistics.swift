import Foundation

/// Per-tier request and byte counts, since start and in one-minute buckets for the
/// last hour. Not thread-safe: the ``Ledger`` owns it under its lock.
struct LedgerStatistics {
    struct Counts: Sendable, Equatable, Codable {
        var requests = 0
        var bytes: Int64 = 0
        var contentRequests = 0

        mutating func add(_ record: LedgerRecord) {
            requests += 1
            bytes += record.bytes
            if record.isContentHit { contentRequests += 1 }
        }

        static func + (a: Counts, b: Counts) -> Counts {
            Counts(requests: a.requests + b.requests, bytes: a.bytes + b.bytes, contentRequests: a.contentRequests + b.contentRequests)
        }
    }

    private(set) var total: [String: Counts] = [:]
    /// minute index (seconds since 1970 / 60) → tier → counts; at most 60 minutes kept.
    private var minutes: [Int: [String: Counts]] = [:]

    mutating func add(_ record: LedgerRecord) {
        total[record.tier, default: Counts()].add(record)
        let minute = Int(record.time.timeIntervalSince1970 / 60)
        minutes[minute, default: [:]][record.tier, default: Counts()].add(record)
        if minutes.count > 61 {
            minutes = minutes.filter { $0.key > minute - 60 }
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
}
