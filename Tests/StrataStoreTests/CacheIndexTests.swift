import Foundation
import StrataCore
import Testing
@testable import StrataStore

@Suite struct CacheIndexTests {
    func record(_ index: CacheIndex, _ name: String, accessed: TimeInterval) throws -> Digest {
        let digest = ContentHasher.digest(of: Array(name.utf8))
        try index.recordBlob(StoredBlob(digest: digest, size: 10, storedSize: 10, compressed: false), mediaType: nil,
                             at: Date(timeIntervalSince1970: accessed))
        return digest
    }

    /// Eviction reads the index least recently requested first, a page at a time: every
    /// blob once, ties in digest order, across page boundaries.
    @Test func candidatesComeOldestFirstAcrossPages() throws {
        let index = try CacheIndex()
        var expected: [(TimeInterval, Digest)] = []
        for (i, accessed) in [50.0, 10, 30, 30, 30, 20, 40].enumerated() {
            expected.append((accessed, try record(index, "blob \(i)", accessed: accessed)))
        }
        expected.sort { ($0.0, $0.1.description) < ($1.0, $1.1.description) }
        for pageSize in [1, 2, 3, 100] {
            let read = Array(EvictionCandidates(index: index, pageSize: pageSize))
            #expect(read.map(\.digest) == expected.map(\.1), "page size \(pageSize)")
            #expect(read.map(\.lastAccess.timeIntervalSince1970) == expected.map(\.0))
        }
    }

    /// Removing blobs in one batch takes the tags and manifest rows that name them.
    @Test func removingBlobsTakesTheirTags() throws {
        let index = try CacheIndex()
        let gone = try record(index, "gone", accessed: 1)
        let kept = try record(index, "kept", accessed: 2)
        let repository = try RepositoryName("library/x")
        for (tag, digest) in [("a", gone), ("b", kept)] {
            try index.setTag(CacheIndex.TagRow(registry: "docker.io", repository: repository, tag: try Tag(tag), digest: digest,
                                    mediaType: MediaType.ociManifest.value, fetchedAt: Date(), tier: "canonical"))
        }
        try index.removeBlobs([gone])
        #expect(try index.blob(gone) == nil)
        #expect(try index.blob(kept) != nil)
        #expect(try index.tags(registry: "docker.io", repository: repository).map(\.tag.value) == ["b"])
    }
}
