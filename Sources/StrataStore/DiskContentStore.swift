#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import StrataCore

/// The local disk as a ``ContentStore``: blob files (raw or zstd frames) in a
/// ``BlobStore``, tags and access times in a SQLite ``CacheIndex``, and in memory what a
/// hit needs so that it never waits for SQLite.
///
/// Small blobs and manifests are re-hashed on every read from disk: a damaged one is
/// quarantined and reported absent, so the engine fetches it again. A cache directory
/// that vanishes under the running server is rebuilt empty.
public final class DiskContentStore: ContentStore {
    public let blobs: BlobStore
    public let index: CacheIndex
    /// Hits counted in memory, written to the index in batches.
    public let access: AccessRecorder
    private let logger: Logger
    private let now: @Sendable () -> Date
    private let hot = NIOLockedValueBox(HotIndex())
    /// Set while the cache directory is known lost, so that the loss is logged once.
    private let storageLost = NIOLockedValueBox(false)

    /// Stored blobs up to this size are re-hashed on every read from disk (configs,
    /// small layers); larger ones are left to the background scrub.
    public static let verifyOnReadLimit: Int64 = 256 << 10

    /// What a cache hit needs, kept in memory: tag → record, digest → manifest bytes,
    /// digest → stored blob.
    private struct HotIndex {
        struct TagKey: Hashable {
            let registry: String
            let repository: RepositoryName
            let tag: Tag
        }
        private(set) var tags: [TagKey: TagRecord] = [:]
        /// Which tags point at a digest, so that forgetting a blob does not scan every tag.
        private var tagsByDigest: [Digest: Set<TagKey>] = [:]
        var manifests: [Digest: StoredManifest] = [:]
        var blobs: [Digest: StoredBlob] = [:]

        /// Sets or (nil) forgets a tag's record.
        mutating func setTag(_ key: TagKey, _ record: TagRecord?) {
            if let old = tags[key]?.digest {
                tagsByDigest[old]?.remove(key)
                if tagsByDigest[old]?.isEmpty == true { tagsByDigest[old] = nil }
            }
            tags[key] = record
            if let record { tagsByDigest[record.digest, default: []].insert(key) }
        }

        mutating func forgetTags(pointingAt digest: Digest) {
            for key in tagsByDigest.removeValue(forKey: digest) ?? [] { tags[key] = nil }
        }
    }

    public init(blobs: BlobStore, index: CacheIndex, logger: Logger, now: @escaping @Sendable () -> Date = Date.init) {
        self.blobs = blobs
        self.index = index
        self.access = AccessRecorder(index: index)
        self.logger = logger
        self.now = now
    }

    // MARK: Reading

    public func manifest(_ digest: Digest) async -> StoredManifest? {
        if let hit = hot.withLockedValue({ $0.manifests[digest] }) { return hit }
        guard let row = try? index.blob(digest), let mediaType = row.mediaType,
              let reader = try? blobs.open(digest), let bytes = try? await reader.readAll() else { return nil }
        guard ContentHasher.digest(of: bytes, algorithm: digest.algorithm) == digest else {
            logger.error("stored manifest fails its digest; removed, to be fetched again", metadata: ["digest": "\(digest)"])
            quarantine(digest)
            return nil
        }
        let manifest = StoredManifest(bytes: bytes, mediaType: mediaType)
        hot.withLockedValue { $0.manifests[digest] = manifest }
        return manifest
    }

    public func blob(_ digest: Digest) async -> (any StoredContent)? {
        if hot.withLockedValue({ $0.blobs[digest] }) == nil {
            guard let stored = blobs.lookup(digest) else {
                // Files that do not make a blob (a damaged frame index, a lone file): out of
                // the way, so that the fill that follows can install the blob there.
                if blobs.hasEntry(digest) {
                    logger.error("stored blob is damaged; quarantined, to be fetched again", metadata: ["digest": "\(digest)"])
                    quarantine(digest)
                }
                return nil
            }
            hot.withLockedValue { $0.blobs[digest] = stored }
        }
        let reader: BlobReader
        do {
            reader = try blobs.open(digest)
        } catch let error as StoreError where error.isCorrupt {
            // Cut short, or not matching its frame index: quarantined on the first failure, and filled again.
            logger.error("stored blob is damaged; quarantined, to be fetched again", metadata: ["digest": "\(digest)", "error": "\(error)"])
            quarantine(digest)
            return nil
        } catch {
            // Removed underneath us (eviction, verify, the whole directory): forget it and fill again.
            _ = hot.withLockedValue { $0.blobs.removeValue(forKey: digest) }
            recoverIfLost()
            return nil
        }
        guard reader.blob.size <= Self.verifyOnReadLimit else { return DiskContent(reader: reader, verifiedBytes: nil) }
        let bytes = try? await reader.readAll()
        guard let bytes, ContentHasher.digest(of: bytes, algorithm: digest.algorithm) == digest else {
            logger.error("stored blob fails its digest; quarantined, to be fetched again", metadata: ["digest": "\(digest)"])
            quarantine(digest)
            return nil
        }
        // Served from these verified bytes rather than read again.
        return DiskContent(reader: reader, verifiedBytes: bytes)
    }

    public func tag(registry: String, repository: RepositoryName, tag: Tag) -> TagRecord? {
        let key = HotIndex.TagKey(registry: registry, repository: repository, tag: tag)
        if let record = hot.withLockedValue({ $0.tags[key] }) { return record }
        guard let row = try? index.tag(registry: registry, repository: repository, tag: tag) else { return nil }
        hot.withLockedValue { $0.setTag(key, row) }
        return row
    }

    public func recordAccess(_ digest: Digest, at time: Date) {
        access.record(digest, at: time)
    }

    public func manifestInMemory(_ digest: Digest) -> StoredManifest? {
        hot.withLockedValue { $0.manifests[digest] }
    }

    public func tagInMemory(registry: String, repository: RepositoryName, tag: Tag) -> TagRecord? {
        hot.withLockedValue { $0.tags[HotIndex.TagKey(registry: registry, repository: repository, tag: tag)] }
    }

    public func rawFileInMemory(_ digest: Digest) -> (blob: StoredBlob, path: String)? {
        guard let blob = hot.withLockedValue({ $0.blobs[digest] }), !blob.compressed, blob.size > Self.verifyOnReadLimit else { return nil }
        return (blob, "\(blobs.layout.blobDirectory(digest))/\(StoreLayout.rawFile)")
    }

    // MARK: Writing

    public func putManifest(_ bytes: [UInt8], digest: Digest, record: ManifestRecord) async throws -> StoredBlob {
        let stored: StoredBlob
        do {
            stored = try await blobs.put(bytes, digest: digest)
        } catch {
            guard !blobs.isIntact, recoverIfLost() else { throw error }
            stored = try await blobs.put(bytes, digest: digest)
        }
        try index.recordBlob(stored, mediaType: record.mediaType, at: record.fetchedAt)
        try index.addManifest(record)
        hot.withLockedValue {
            $0.manifests[digest] = StoredManifest(bytes: bytes, mediaType: record.mediaType)
            $0.blobs[digest] = stored
        }
        return stored
    }

    public func setTag(_ record: TagRecord) throws {
        let key = HotIndex.TagKey(registry: record.registry, repository: record.repository, tag: record.tag)
        hot.withLockedValue { $0.setTag(key, record) }
        try index.setTag(record)
    }

    public func removeTag(registry: String, repository: RepositoryName, tag: Tag, deletedAt: Date) throws {
        let key = HotIndex.TagKey(registry: registry, repository: repository, tag: tag)
        hot.withLockedValue { $0.setTag(key, nil) }
        try index.removeTag(registry: registry, repository: repository, tag: tag, deletedAt: deletedAt)
    }

    public func deletedTags() throws -> [DeletedTagRecord] {
        try index.deletedTags()
    }

    public func restoreTag(registry: String, repository: RepositoryName, tag: Tag, at time: Date) throws -> TagRecord? {
        guard let restored = try index.restoreTag(registry: registry, repository: repository, tag: tag, at: time) else { return nil }
        hot.withLockedValue { $0.setTag(HotIndex.TagKey(registry: registry, repository: repository, tag: tag), restored) }
        return restored
    }

    /// A temp file in the store, hashed on a lane of its own; a cache directory that
    /// vanished is rebuilt first.
    public func makeSink(for digest: Digest) throws -> any ContentSink {
        do {
            return try blobs.makeWriter(algorithm: digest.algorithm, hashLane: true)
        } catch {
            guard !blobs.isIntact, recoverIfLost() else { throw error }
            return try blobs.makeWriter(algorithm: digest.algorithm, hashLane: true)
        }
    }

    /// Verified and renamed into place, recorded *provisional* in the index: visible,
    /// not yet synced (start-up verifies provisional blobs again).
    public func commit(_ sink: any ContentSink, digest: Digest, expectedSize: Int64?) async throws -> StoredBlob {
        guard let writer = sink as? BlobWriter else { throw StoreError.corrupt("a sink of another store") }
        let stored = try await blobs.commitProvisionally(writer, digest: digest, expectedSize: expectedSize)
        do {
            try index.recordBlob(stored, mediaType: nil, at: now(), provisional: true)
        } catch {
            logger.error("cannot record blob", metadata: ["digest": "\(digest)", "error": "\(error)"])
        }
        hot.withLockedValue { $0.blobs[digest] = stored }
        return stored
    }

    public func makeDurable(_ digest: Digest) async throws {
        try await blobs.makeDurable(digest)
        try index.markDurable(digest)
    }

    public func remove(_ digest: Digest) {
        forget(digest)
        blobs.remove(digest)
        do {
            try index.removeBlob(digest)
        } catch {
            logger.error("cannot drop blob from the index", metadata: ["digest": "\(digest)", "error": "\(error)"])
        }
    }

    // MARK: Listing

    public func tags(registry: String, repository: RepositoryName) throws -> [Tag] {
        try index.tags(registry: registry, repository: repository).map(\.tag)
    }

    public func repositories(registry: String) throws -> [RepositoryName] {
        try index.repositories(registry: registry)
    }

    // MARK: Upkeep

    /// Moves a blob that failed its digest out of the store and the indexes: the next
    /// request fetches it again.
    public func quarantine(_ digest: Digest) {
        forget(digest)
        do {
            try blobs.quarantine(digest)
        } catch {
            logger.error("cannot quarantine blob; removing it", metadata: ["digest": "\(digest)", "error": "\(error)"])
            blobs.remove(digest)
        }
        do {
            try index.removeBlob(digest)
        } catch {
            logger.error("cannot drop blob from the index", metadata: ["digest": "\(digest)", "error": "\(error)"])
        }
    }

    /// Drops a blob from the in-memory indexes (it is being removed from the store).
    public func forget(_ digest: Digest) {
        hot.withLockedValue { hot in
            hot.blobs[digest] = nil
            hot.manifests[digest] = nil
            hot.forgetTags(pointingAt: digest)
        }
    }

    /// Checks that the cache directory is still there; when it vanished under the
    /// running server (deleted by hand, a volume unmounted), logs it once as an error,
    /// rebuilds it empty, reopens the index and forgets what was cached, so that pulls
    /// refill from upstream without a restart. Returns whether storage is usable now.
    @discardableResult
    public func recoverIfLost() -> Bool {
        guard !blobs.isIntact || !index.fileExists else {
            storageLost.withLockedValue { $0 = false }
            return true
        }
        let first = storageLost.withLockedValue { lost in defer { lost = true }; return !lost }
        if first {
            logger.error("the cache directory vanished under the running server; rebuilding it empty and refilling from upstream",
                         metadata: ["dir": "\(blobs.layout.root)"])
        }
        do {
            try blobs.rebuild()
            if !index.fileExists { try index.reopen() }
        } catch {
            if first { logger.error("cannot rebuild the cache directory", metadata: ["error": "\(error)"]) }
            return false
        }
        hot.withLockedValue { $0 = HotIndex() }
        storageLost.withLockedValue { $0 = false }
        logger.notice("cache directory rebuilt", metadata: ["dir": "\(blobs.layout.root)"])
        return true
    }

    /// Whether the store can be written and the index read: the readiness check.
    public func isReady() -> Bool {
        guard recoverIfLost() else { return false }
        do {
            try blobs.prepareProbe()
            _ = try index.blob(ContentHasher.digest(of: []))
            return true
        } catch {
            return false
        }
    }
}

/// A blob opened on disk; a small one carries its bytes, read and verified on lookup.
struct DiskContent: StoredContent {
    let reader: BlobReader
    let verifiedBytes: [UInt8]?

    var blob: StoredBlob { reader.blob }

    func duplicateRawDescriptor() -> Int32? {
        // Bytes already in memory and verified go out from there, not from the file again.
        guard verifiedBytes == nil, let file = reader.rawFile else { return nil }
        let fd = dup(file.fd)
        return fd >= 0 ? fd : nil
    }

    func read(_ lower: Int64, _ upper: Int64, body: (ByteBuffer) async throws -> Void) async throws {
        if let verifiedBytes {
            try await body(ByteBuffer(bytes: verifiedBytes[Int(lower)..<Int(upper)]))
            return
        }
        try await reader.read(lower, upper, body: body)
    }

    func readPieces(_ lower: Int64, _ upper: Int64, body: ([ByteBuffer]) async throws -> Void) async throws {
        if verifiedBytes != nil {
            try await read(lower, upper) { try await body([$0]) }
            return
        }
        try await reader.readPieces(lower, upper, body: body)
    }
}
