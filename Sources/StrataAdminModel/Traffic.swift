import Foundation

/// Requests and bytes per tier in one stretch of time (a bar of a dashboard chart).
public struct TrafficBucket: Sendable, Codable, Equatable {
    public typealias Tier = LedgerStats.Window.Tier
    public let start: Date
    public let tiers: [String: Tier]

    public init(start: Date, tiers: [String: Tier]) {
        self.start = start
        self.tiers = tiers
    }
}

/// One repository's client requests for content, and how many the cache answered.
public struct RepositoryTraffic: Sendable, Codable, Equatable {
    public let repository: String
    public let requests: Int
    public let hits: Int
    public let bytes: Int64
    public var hitRatio: Double { requests > 0 ? Double(hits) / Double(requests) : 0 }

    public init(repository: String, requests: Int, hits: Int, bytes: Int64) {
        self.repository = repository
        self.requests = requests
        self.hits = hits
        self.bytes = bytes
    }
}

/// What prefetches brought (manifests and blobs, and their bytes).
public struct PrefetchActivity: Sendable, Codable, Equatable {
    public let lastHour: Int
    public let lastHourBytes: Int64
    public let lastDay: Int
    public let lastDayBytes: Int64
    public let last: Date?

    public init(lastHour: Int, lastHourBytes: Int64, lastDay: Int, lastDayBytes: Int64, last: Date?) {
        self.lastHour = lastHour
        self.lastHourBytes = lastHourBytes
        self.lastDay = lastDay
        self.lastDayBytes = lastDayBytes
        self.last = last
    }
}
