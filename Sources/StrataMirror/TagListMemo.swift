import Foundation
import NIOConcurrencyHelpers
import StrataCore
import StrataUpstream

/// The tag lists tiers answered, by repository, with when: served while younger than
/// `tag_ttl`, and as stale when every tier fails. Kept in memory and bounded; after a
/// restart the cache's own tags stand in until a tier answers again.
final class TagListMemo: Sendable {
    struct Entry: Sendable {
        let tags: [Tag]
        let fetchedAt: Date
        let tier: TierName
        let path: [String]
    }

    /// Most repositories remembered; the oldest answers go first.
    let capacity: Int
    private let entries = NIOLockedValueBox([String: Entry]())

    init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    subscript(key: String) -> Entry? {
        entries.withLockedValue { $0[key] }
    }

    func remember(_ entry: Entry, for key: String) {
        entries.withLockedValue { table in
            if table[key] == nil, table.count >= capacity {
                let oldest = table.sorted { $0.value.fetchedAt < $1.value.fetchedAt }.prefix(max(1, capacity / 10)).map(\.key)
                for gone in oldest { table[gone] = nil }
            }
            table[key] = entry
        }
    }
}
