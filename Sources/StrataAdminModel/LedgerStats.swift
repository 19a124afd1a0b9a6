import Foundation

/// Per-tier figures since start, over the last 5 minutes and over the last hour, as
/// `GET /api/stats` answers.
public struct LedgerStats: Sendable, Codable, Equatable {
    public struct Window: Sendable, Codable, Equatable {
        public struct Tier: Sendable, Codable, Equatable {
            public let requests: Int
            public let bytes: Int64
            public init(requests: Int, bytes: Int64) {
                self.requests = requests
                self.bytes = bytes
            }
        }
        public let tiers: [String: Tier]
        public let requests: Int
        public let bytes: Int64
        /// Content answered from the cache (`cache` and `stale`), over all content answered.
        public let hitRatio: Double?
        /// Bytes served from the cache that would otherwise have come from upstream.
        public let upstreamBytesSaved: Int64
        /// `GET /v2/` version checks among the requests (tier `none`).
        public let pings: Int

        public init(tiers: [String: Tier], requests: Int, bytes: Int64, hitRatio: Double?, upstreamBytesSaved: Int64, pings: Int = 0) {
            self.pings = pings
            self.tiers = tiers
            self.requests = requests
            self.bytes = bytes
            self.hitRatio = hitRatio
            self.upstreamBytesSaved = upstreamBytesSaved
        }
    }
    public let since: Date
    public let total: Window
    public let last5m: Window
    public let last1h: Window

    public init(since: Date, total: Window, last5m: Window, last1h: Window) {
        self.since = since
        self.total = total
        self.last5m = last5m
        self.last1h = last1h
    }
}
