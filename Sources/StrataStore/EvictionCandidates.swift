import Foundation
import StrataCore

/// What eviction needs of a blob: which, how large on disk, when last requested.
public struct EvictionCandidate: Sendable, Equatable {
    public let digest: Digest
    public let storedSize: Int64
    public let lastAccess: Date

    public init(digest: Digest, storedSize: Int64, lastAccess: Date) {
        self.digest = digest
        self.storedSize = storedSize
        self.lastAccess = lastAccess
    }
}

/// The index's blobs least recently requested first, read a page at a time as the
/// sequence is walked (so a plan that stops early reads little of a large cache). A
/// read that fails ends the sequence.
public struct EvictionCandidates: Sequence {
    let index: CacheIndex
    let pageSize: Int

    public init(index: CacheIndex, pageSize: Int = 1000) {
        self.index = index
        self.pageSize = pageSize
    }

    public struct Iterator: IteratorProtocol {
        let index: CacheIndex
        let pageSize: Int
        var page: [EvictionCandidate] = []
        var position = 0
        var done = false

        public mutating func next() -> EvictionCandidate? {
            if position == page.count {
                guard !done, let next = try? index.blobsByLastAccess(after: page.last, limit: pageSize), !next.isEmpty else {
                    done = true
                    return nil
                }
                done = next.count < pageSize
                page = next
                position = 0
            }
            defer { position += 1 }
            return page[position]
        }
    }

    public func makeIterator() -> Iterator { Iterator(index: index, pageSize: pageSize) }
}
