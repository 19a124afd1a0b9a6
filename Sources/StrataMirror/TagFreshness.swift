import Foundation

/// Whether a cached tag may be served without asking upstream.
///
/// A tag fetched less than `ttl` ago is fresh. An older one is stale: it is revalidated
/// with a `HEAD` before use, and served as stale only when no tier answers.
public struct TagFreshness: Sendable, Equatable {
    public enum Decision: Sendable, Equatable {
        case fresh
        case revalidate
    }

    public let ttl: TimeInterval

    public init(ttl: TimeInterval) {
        self.ttl = ttl
    }

    public func decide(fetchedAt: Date, now: Date) -> Decision {
        // A clock that went backwards makes the entry look new; treat that as stale.
        let age = now.timeIntervalSince(fetchedAt)
        return age >= 0 && age < ttl ? .fresh : .revalidate
    }
}
