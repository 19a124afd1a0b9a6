import Foundation
import NIOCore
import NIOConcurrencyHelpers

/// Remembers for a short while that something was not found in any tier, so a storm
/// of requests for a missing tag or blob does not reach upstream.
public final class NegativeCache: Sendable {
    private let entries = NIOLockedValueBox([String: Date]())
    public let ttl: TimeInterval
    private let now: @Sendable () -> Date

    public init(ttl: TimeInterval, now: @escaping @Sendable () -> Date) {
        self.ttl = ttl
        self.now = now
    }

    public func contains(_ key: String) -> Bool {
        let time = now()
        return entries.withLockedValue { table in
            guard let expiry = table[key] else { return false }
            if expiry <= time {
                table[key] = nil
                return false
            }
            return true
        }
    }

    /// Remembers `key` for the cache's TTL, or for `ttl` when given (a verdict that holds longer).
    public func insert(_ key: String, ttl: TimeInterval? = nil) {
        let ttl = ttl ?? self.ttl
        guard ttl > 0 else { return }
        let expiry = now().addingTimeInterval(ttl)
        entries.withLockedValue { table in
            // Keep the table small: drop expired entries when it grows.
            if table.count > 10_000 {
                let time = now()
                table = table.filter { $0.value > time }
            }
            table[key] = expiry
        }
    }

    public func remove(_ key: String) {
        _ = entries.withLockedValue { $0.removeValue(forKey: key) }
    }
}
