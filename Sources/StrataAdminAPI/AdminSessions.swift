import Foundation
import NIOConcurrencyHelpers

/// Browser sessions of a token-protected admin port: each sign-in gets a random id that
/// lives `lifetime` (or until sign-out, or a restart), never a value derived from the
/// token, so a cookie seen once is not a credential for ever. Bounded: past `capacity`
/// the oldest session goes.
final class AdminSessions: Sendable {
    let lifetime: TimeInterval
    let capacity: Int
    private let now: @Sendable () -> Date
    private let sessions = NIOLockedValueBox([String: Date]())

    init(lifetime: TimeInterval = 12 * 3600, capacity: Int = 1000, now: @escaping @Sendable () -> Date = Date.init) {
        self.lifetime = lifetime
        self.capacity = capacity
        self.now = now
    }

    /// A new session's id: 32 random bytes, hex.
    func start() -> String {
        var generator = SystemRandomNumberGenerator()
        let id = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max, using: &generator)) }.joined()
        let expires = now().addingTimeInterval(lifetime)
        sessions.withLockedValue { table in
            let time = now()
            table = table.filter { $0.value > time }
            if table.count >= capacity, let oldest = table.min(by: { $0.value < $1.value })?.key { table[oldest] = nil }
            table[id] = expires
        }
        return id
    }

    /// Whether `id` is a live session.
    func isValid(_ id: String) -> Bool {
        guard id.utf8.count == 64 else { return false }
        let time = now()
        return sessions.withLockedValue { table in
            guard let expires = table[id] else { return false }
            if expires <= time { table[id] = nil; return false }
            return true
        }
    }

    /// Ends a session (sign-out).
    func end(_ id: String) {
        _ = sessions.withLockedValue { $0.removeValue(forKey: id) }
    }
}
