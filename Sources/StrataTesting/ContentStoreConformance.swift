import Foundation
import NIOCore
import StrataCore
import StrataStore

/// What every ``ContentStore`` must do, as checks any test target can run against any
/// implementation (the disk, memory, the object store): one suite, many stores.
///
/// Each check gets a fresh, empty store from `make` and throws ``Failure`` with what it
/// saw when the store does not behave.
public enum ContentStoreConformance {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public typealias Check = @Sendable (any ContentStore) async throws -> Void

    /// Every check, by name.
    public static let checks: [String: Check] = [
        "absent content reads as nil": absentIsNil,
        "a manifest is stored with its media type and listed": manifestRoundTrip,
        "a manifest that fails its digest is refused": manifestWrongDigest,
        "a committed blob reads back whole and in ranges": blobRoundTrip,
        "a sink reads back what it kept while it is written": sinkReadsBack,
        "a sink reads on after its blob was committed": sinkReadsAfterCommit,
        "wrong bytes or a wrong size are never committed": blobVerification,
        "a discarded sink leaves nothing": discardLeavesNothing,
        "tags point at digests and are listed": tagsRoundTrip,
        "removing content removes the tags that point at it": removal,
        "committing the same blob twice keeps it readable": secondCommit,
        "parts written out of order count once adopted in order": rangedParts,
    ]

    public static var names: [String] { checks.keys.sorted() }

    static func expect(_ condition: Bool, _ what: @autoclosure () -> String) throws {
        if !condition { throw Failure(description: what()) }
    }

    static let registry = "docker.io"
    static func repository() throws -> RepositoryName { try RepositoryName("library/conformance") }

    static func manifestBytes(_ n: Int) -> [UInt8] {
        Array(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],"n":\#(n)}"#.utf8)
    }

    static func bytes(_ content: any StoredContent, _ lower: Int64, _ upper: Int64) async throws -> [UInt8] {
        var out: [UInt8] = []
        try await content.read(lower, upper) { out += $0.readableBytesView }
        return out
    }

    /// Writes `bytes` through a sink in parts and commits them under `digest`.
    static func fill(_ store: any ContentStore, _ bytes: [UInt8], digest: Digest, size: Int64? = nil) async throws -> StoredBlob {
        let sink = try store.makeSink(for: digest)
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + 100_000)
            try sink.append(ByteBuffer(bytes: bytes[offset..<end]))
            offset = end
        }
        do {
            let stored = try await store.commit(sink, digest: digest, expectedSize: size ?? Int64(bytes.count))
            try await store.makeDurable(digest)
            return stored
        } catch {
            sink.discard()
            throw error
        }
    }

    static func absentIsNil(_ store: any ContentStore) async throws {
        let digest = ContentHasher.digest(of: [1, 2, 3])
        try expect(await store.manifest(digest) == nil, "manifest of nothing is not nil")
        try expect(await store.blob(digest) == nil, "blob of nothing is not nil")
        try expect(await store.tag(registry: registry, repository: try repository(), tag: try Tag("none")) == nil, "tag of nothing is not nil")
        try expect(try await store.tags(registry: registry, repository: try repository()).isEmpty, "an empty store lists tags")
        try expect(try await store.repositories(registry: registry).isEmpty, "an empty store lists repositories")
    }

    static func manifestRoundTrip(_ store: any ContentStore) async throws {
        let bytes = manifestBytes(1)
        let digest = ContentHasher.digest(of: bytes)
        let record = ManifestRecord(registry: registry, repository: try repository(), digest: digest,
                                    mediaType: MediaType.ociIndex.value, fetchedAt: Date(), tier: "canonical")
        let stored = try await store.putManifest(bytes, digest: digest, record: record)
        try expect(stored.size == Int64(bytes.count), "stored size \(stored.size), not \(bytes.count)")
        let read = await store.manifest(digest)
        try expect(read == StoredManifest(bytes: bytes, mediaType: MediaType.ociIndex.value), "manifest read back as \(String(describing: read))")
        guard let blob = await store.blob(digest) else { throw Failure(description: "a manifest is not readable as a blob") }
        try expect(try await Self.bytes(blob, 0, blob.blob.size) == bytes, "manifest blob bytes differ")
        try expect(try await store.repositories(registry: registry) == [try repository()], "the manifest's repository is not listed")
        try expect(try await store.repositories(registry: "other.example").isEmpty, "another registry lists the repository")
    }

    static func manifestWrongDigest(_ store: any ContentStore) async throws {
        let bytes = manifestBytes(2)
        let digest = ContentHasher.digest(of: manifestBytes(3))
        let record = ManifestRecord(registry: registry, repository: try repository(), digest: digest,
                                    mediaType: MediaType.ociIndex.value, fetchedAt: Date(), tier: "canonical")
        var refused = false
        do { try await store.putManifest(bytes, digest: digest, record: record) } catch { refused = true }
        try expect(refused, "a manifest under another digest was accepted")
        try expect(await store.manifest(digest) == nil, "a refused manifest is readable")
    }

    static func blobRoundTrip(_ store: any ContentStore) async throws {
        let bytes = ImageFixture.randomBytes(700_001)
        let digest = ContentHasher.digest(of: bytes)
        let stored = try await fill(store, bytes, digest: digest)
        try expect(stored.digest == digest && stored.size == Int64(bytes.count), "committed as \(stored)")
        try await store.makeDurable(digest)
        guard let blob = await store.blob(digest) else { throw Failure(description: "a committed blob is not readable") }
        try expect(blob.blob.size == Int64(bytes.count), "size \(blob.blob.size)")
        try expect(try await Self.bytes(blob, 0, blob.blob.size) == bytes, "whole blob differs")
        try expect(try await Self.bytes(blob, 1000, 250_000) == Array(bytes[1000..<250_000]), "range differs")
        try expect(try await Self.bytes(blob, 699_999, 700_001) == Array(bytes[699_999...]), "last bytes differ")
    }

    static func sinkReadsBack(_ store: any ContentStore) async throws {
        let bytes = ImageFixture.randomBytes(300_000)
        let digest = ContentHasher.digest(of: bytes)
        let sink = try store.makeSink(for: digest)
        defer { sink.discard() }
        try sink.append(ByteBuffer(bytes: bytes[0..<200_000]))
        try expect(sink.written == 200_000, "written \(sink.written)")
        let part = try sink.read(at: 10_000, count: 5_000)
        try expect(Array(part.readableBytesView) == Array(bytes[10_000..<15_000]), "a sink reads back other bytes")
        try expect(await store.blob(digest) == nil, "a blob is visible before its commit")
    }

    static func sinkReadsAfterCommit(_ store: any ContentStore) async throws {
        let bytes = ImageFixture.randomBytes(120_000)
        let digest = ContentHasher.digest(of: bytes)
        let sink = try store.makeSink(for: digest)
        try sink.append(ByteBuffer(bytes: bytes))
        _ = try await store.commit(sink, digest: digest, expectedSize: nil)
        let part = try sink.read(at: 100_000, count: 20_000)
        try expect(Array(part.readableBytesView) == Array(bytes[100_000...]), "a committed sink reads back other bytes")
    }

    static func blobVerification(_ store: any ContentStore) async throws {
        var bytes = ImageFixture.randomBytes(200_000)
        let digest = ContentHasher.digest(of: bytes)
        bytes[100_000] ^= 1
        do {
            _ = try await fill(store, bytes, digest: digest)
            throw Failure(description: "bytes that fail their digest were committed")
        } catch let error as StoreError {
            try expect(error.isVerificationFailure, "wrong bytes failed as \(error), not as a verification failure")
        }
        bytes[100_000] ^= 1
        do {
            _ = try await fill(store, bytes, digest: digest, size: 200_001)
            throw Failure(description: "a blob of the wrong size was committed")
        } catch let error as StoreError {
            try expect(error.isVerificationFailure, "a wrong size failed as \(error)")
        }
        try expect(await store.blob(digest) == nil, "a blob that failed verification is readable")
    }

    static func discardLeavesNothing(_ store: any ContentStore) async throws {
        let bytes = ImageFixture.randomBytes(10_000)
        let digest = ContentHasher.digest(of: bytes)
        let sink = try store.makeSink(for: digest)
        try sink.append(ByteBuffer(bytes: bytes))
        sink.discard()
        try expect(await store.blob(digest) == nil, "a discarded blob is readable")
        // And the same blob can still be filled afterwards.
        _ = try await fill(store, bytes, digest: digest)
        try expect(await store.blob(digest) != nil, "a blob filled after a discard is not readable")
    }

    /// A parallel ranged fill: the later parts are written first, the front is adopted
    /// as it completes; only adopted bytes count, and the blob commits verified.
    static func rangedParts(_ store: any ContentStore) async throws {
        let bytes = ImageFixture.randomBytes(300_000)
        let digest = ContentHasher.digest(of: bytes)
        let sink = try store.makeSink(for: digest)
        try sink.write(ByteBuffer(bytes: bytes[200_000...]), at: 200_000)
        try sink.write(ByteBuffer(bytes: bytes[100_000..<200_000]), at: 100_000)
        try expect(sink.written == 0, "bytes written at an offset counted before they were adopted")
        try sink.append(ByteBuffer(bytes: bytes[..<100_000]))
        try sink.adopt(upTo: 250_000)
        try expect(sink.written == 250_000, "adopting to 250,000 counted \(sink.written)")
        try expect(Array(try sink.read(at: 150_000, count: 1_000).readableBytesView) == Array(bytes[150_000..<151_000]), "an adopted part reads back wrong")
        try sink.adopt(upTo: 300_000)
        _ = try await store.commit(sink, digest: digest, expectedSize: 300_000)
        try await store.makeDurable(digest)
        var back: [UInt8] = []
        try await store.blob(digest)?.read(0, 300_000) { back += $0.readableBytesView }
        try expect(back == bytes, "a blob filled in parts reads back wrong")
    }

    static func tagsRoundTrip(_ store: any ContentStore) async throws {
        let bytes = manifestBytes(4)
        let digest = ContentHasher.digest(of: bytes)
        let repo = try repository()
        try await store.putManifest(bytes, digest: digest, record: ManifestRecord(
            registry: registry, repository: repo, digest: digest, mediaType: MediaType.ociIndex.value, fetchedAt: Date(), tier: "edge"))
        let fetchedAt = Date(timeIntervalSince1970: 1_800_000_000)
        for name in ["b", "a"] {
            try await store.setTag(TagRecord(registry: registry, repository: repo, tag: try Tag(name), digest: digest,
                                       mediaType: MediaType.ociIndex.value, fetchedAt: fetchedAt, tier: "edge"))
        }
        let record = await store.tag(registry: registry, repository: repo, tag: try Tag("a"))
        try expect(record?.digest == digest && record?.mediaType == MediaType.ociIndex.value, "tag read back as \(String(describing: record))")
        try expect(record.map { abs($0.fetchedAt.timeIntervalSince(fetchedAt)) < 1 } ?? false, "tag time read back as \(String(describing: record?.fetchedAt))")
        try expect(try await store.tags(registry: registry, repository: repo).map(\.value) == ["a", "b"], "tags not listed in order")
        // Re-pointing a tag replaces it.
        let other = manifestBytes(5)
        let otherDigest = ContentHasher.digest(of: other)
        try await store.setTag(TagRecord(registry: registry, repository: repo, tag: try Tag("a"), digest: otherDigest,
                                   mediaType: MediaType.ociIndex.value, fetchedAt: fetchedAt, tier: "edge"))
        try expect(await store.tag(registry: registry, repository: repo, tag: try Tag("a"))?.digest == otherDigest, "a re-pointed tag still points at the old digest")
        // Forgetting a tag (deleted upstream) leaves its manifest and the other tags, and
        // keeps where it pointed among the deleted tags.
        let deletedAt = Date(timeIntervalSince1970: 1_800_000_100)
        try await store.removeTag(registry: registry, repository: repo, tag: try Tag("b"), deletedAt: deletedAt)
        try expect(await store.tag(registry: registry, repository: repo, tag: try Tag("b")) == nil, "a removed tag is still read")
        try expect(try await store.tags(registry: registry, repository: repo).map(\.value) == ["a"], "a removed tag is still listed")
        try expect(await store.manifest(digest)?.bytes == bytes, "removing a tag took its manifest")
        let deleted = try await store.deletedTags().filter { $0.tag.repository == repo }
        try expect(deleted.map(\.tag.tag.value) == ["b"] && deleted.first?.tag.digest == digest, "the deleted tag is not kept: \(deleted)")
        try expect(deleted.first.map { abs($0.deletedAt.timeIntervalSince(deletedAt)) < 1 } ?? false, "deleted at \(String(describing: deleted.first?.deletedAt))")
        // Restored, it is read and listed again, fetched when it was restored, and no longer deleted.
        let restoredAt = Date(timeIntervalSince1970: 1_800_000_200)
        let restored = try await store.restoreTag(registry: registry, repository: repo, tag: try Tag("b"), at: restoredAt)
        try expect(restored?.digest == digest, "restore answered \(String(describing: restored))")
        try expect(await store.tag(registry: registry, repository: repo, tag: try Tag("b"))?.digest == digest, "a restored tag is not read")
        try expect(try await store.deletedTags().filter { $0.tag.repository == repo }.isEmpty, "a restored tag is still listed as deleted")
        try expect(try await store.restoreTag(registry: registry, repository: repo, tag: try Tag("never"), at: restoredAt) == nil,
                   "a tag never deleted was restored")
        // A tag set again after its deletion is no longer deleted.
        try await store.removeTag(registry: registry, repository: repo, tag: try Tag("b"), deletedAt: deletedAt)
        try await store.setTag(TagRecord(registry: registry, repository: repo, tag: try Tag("b"), digest: digest,
                                         mediaType: MediaType.ociIndex.value, fetchedAt: fetchedAt, tier: "edge"))
        try expect(try await store.deletedTags().filter { $0.tag.repository == repo }.isEmpty, "a tag set again is still listed as deleted")
        try await store.removeTag(registry: registry, repository: repo, tag: try Tag("b"), deletedAt: deletedAt)
    }

    static func removal(_ store: any ContentStore) async throws {
        let bytes = manifestBytes(6)
        let digest = ContentHasher.digest(of: bytes)
        let repo = try repository()
        try await store.putManifest(bytes, digest: digest, record: ManifestRecord(
            registry: registry, repository: repo, digest: digest, mediaType: MediaType.ociIndex.value, fetchedAt: Date(), tier: "edge"))
        try await store.setTag(TagRecord(registry: registry, repository: repo, tag: try Tag("gone"), digest: digest,
                                   mediaType: MediaType.ociIndex.value, fetchedAt: Date(), tier: "edge"))
        try await store.setTag(TagRecord(registry: registry, repository: repo, tag: try Tag("deleted"), digest: digest,
                                   mediaType: MediaType.ociIndex.value, fetchedAt: Date(), tier: "edge"))
        try await store.removeTag(registry: registry, repository: repo, tag: try Tag("deleted"), deletedAt: Date())
        let blob = ImageFixture.randomBytes(50_000)
        let blobDigest = ContentHasher.digest(of: blob)
        _ = try await fill(store, blob, digest: blobDigest)
        await store.remove(digest)
        await store.remove(blobDigest)
        try expect(await store.manifest(digest) == nil, "a removed manifest is readable")
        try expect(await store.blob(blobDigest) == nil, "a removed blob is readable")
        try expect(await store.tag(registry: registry, repository: repo, tag: try Tag("gone")) == nil, "a tag outlived its manifest")
        try expect(try await store.deletedTags().filter { $0.tag.repository == repo }.isEmpty, "a deleted tag outlived its manifest")
    }

    static func secondCommit(_ store: any ContentStore) async throws {
        let bytes = ImageFixture.randomBytes(80_000)
        let digest = ContentHasher.digest(of: bytes)
        _ = try await fill(store, bytes, digest: digest)
        _ = try await fill(store, bytes, digest: digest)
        guard let blob = await store.blob(digest) else { throw Failure(description: "a blob committed twice is not readable") }
        try expect(try await Self.bytes(blob, 0, blob.blob.size) == bytes, "a blob committed twice reads other bytes")
    }
}
