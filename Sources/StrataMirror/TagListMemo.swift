import Foundation
import NIOConcurrencyHelpers
import StrataCore
import StrataUpstream

/// The tag lists tiers answered, by repository, with when: served while younger than
/// `tag_ttl`, and as stale when every tier fails. Kept in memory and bounded by the bytes
/// of the tags it holds (a repository of 100,000 tags weighs as much as thousands of
/// small ones); after a restart the cache's own tags stand in until a tier answers again.
final class TagListMemo: Sendable {
    struct Entry: Sendable {
        let tags: [Tag]
        let fetchedAt: Date
        let tier: TierName
        let path: [String]

        /// What the entry costs in memory, roughly: each tag's characters and its share
        /// of the array and the string's own storage.
        var weight: Int { tags.reduce(64) { $0 + $1.value.utf8.count + 32 } }
    }

    /// Most bytes of tags remembered; the oldest answers go first.
    let capacity: Int
    private struct Table {
        var entries: [String: Entry] = [:]
        var weight = 0
    }
    private let table = NIOLockedValueBox(Table())

    init(capacity: Int = 64 << 20) {
        self.capacity = capacity
    }

    /// Bytes the remembered lists weigh now.
    var weight: Int { table.withLockedValue { $0.weight } }

    subscript(key: String) -> Entry? {
        table.withLockedValue { $0.entries[key] }
    }

    func remember(_ entry: Entry, for key: String) {
        let weight = entry.weight
        // A list larger than the whole bound is answered, not remembered.
        guard weight <= capacity else { return }
        table.withLockedValue { t in
            if let old = t.entries.removeValue(forKey: key) { t.weight -= old.weight }
            if t.weight + weight > capacity {
                // Oldest first, down to 90% of the bound less this entry: not one eviction per insert.
                for (gone, old) in t.entries.sorted(by: { $0.value.fetchedAt < $1.value.fetchedAt }) {
                    guard t.weight + weight > capacity / 10 * 9 else { break }
                    t.entries[gone] = nil
                    t.weight -= old.weight
                }
            }
            t.entries[key] = entry
            t.weight += weight
        }
    }
}
