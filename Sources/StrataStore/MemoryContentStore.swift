import Foundation
import NIOConcurrencyHelpers
import NIOCore
import StrataCore

/// A ``ContentStore`` in memory: for tests of the engine without a disk, and as the
/// plainest statement of what every store must do.
///
/// `capacity` bounds the bytes it keeps (blobs, manifests and sinks together): an
/// append past it throws a disk-full ``StoreError``, as a full disk would.
public final class MemoryContentStore: ContentStore {
    private struct Contents {
        var blobs: [Digest: [UInt8]] = [:]
        var manifests: [Digest: StoredManifest] = [:]
        var manifestRecords: [ManifestRecord] = []
        var tags: [String: TagRecord] = [:]
        var deletedTags: [String: DeletedTagRecord] = [:]
        var accesses: [Digest: Int] = [:]
        var durable: Set<Digest> = []
        /// Bytes kept, stored and in sinks.
        var used: Int64 = 0
    }

    private let contents = NIOLockedValueBox(Contents())
    public let capacity: Int64

    public init(capacity: Int64 = .max) {
        self.capacity = capacity
    }

    private static func tagKey(_ registry: String, _ repository: RepositoryName, _ tag: Tag) -> String {
        "\(registry)/\(repository.value):\(tag.value)"
    }

    // MARK: Reading

    public func manifest(_ digest: Digest) async -> StoredManifest? {
        contents.withLockedValue { $0.manifests[digest] }
    }

    public func blob(_ digest: Digest) async -> (any StoredContent)? {
        contents.withLockedValue { $0.blobs[digest] }.map { MemoryContent(digest: digest, bytes: $0) }
    }

    public func tag(registry: String, repository: RepositoryName, tag: Tag) -> TagRecord? {
        contents.withLockedValue { $0.tags[Self.tagKey(registry, repository, tag)] }
    }

    public func recordAccess(_ digest: Digest, at time: Date) {
        contents.withLockedValue { $0.accesses[digest, default: 0] += 1 }
    }

    public func manifestInMemory(_ digest: Digest) -> StoredManifest? {
        contents.withLockedValue { $0.manifests[digest] }
    }

    public func tagInMemory(registry: String, repository: RepositoryName, tag: Tag) -> TagRecord? {
        self.tag(registry: registry, repository: repository, tag: tag)
    }

    /// How many hits were recorded for `digest`.
    public func accesses(_ digest: Digest) -> Int {
        contents.withLockedValue { $0.accesses[digest] ?? 0 }
    }

    /// Whether a committed blob was made durable.
    public func isDurable(_ digest: Digest) -> Bool {
        contents.withLockedValue { $0.durable.contains(digest) }
    }

    // MARK: Writing

    public func putManifest(_ bytes: [UInt8], digest: Digest, record: ManifestRecord) async throws -> StoredBlob {
        let actual = ContentHasher.digest(of: bytes, algorithm: digest.algorithm)
        guard actual == digest else { throw StoreError.digestMismatch(expected: digest, actual: actual) }
        try contents.withLockedValue { c throws in
            if c.blobs[digest] == nil {
                guard c.used + Int64(bytes.count) <= capacity else { throw StoreError.io("write", "memory", errno: ENOSPC) }
                c.used += Int64(bytes.count)
            }
            c.blobs[digest] = bytes
            c.manifests[digest] = StoredManifest(bytes: bytes, mediaType: record.mediaType)
            c.manifestRecords.removeAll { $0.registry == record.registry && $0.repository == record.repository && $0.digest == digest }
            c.manifestRecords.append(record)
            c.durable.insert(digest)
        }
        return StoredBlob(digest: digest, size: Int64(bytes.count), storedSize: Int64(bytes.count), compressed: false)
    }

    public func setTag(_ record: TagRecord) throws {
        contents.withLockedValue { c in
            let key = Self.tagKey(record.registry, record.repository, record.tag)
            c.tags[key] = record
            c.deletedTags[key] = nil
        }
    }

    public func removeTag(registry: String, repository: RepositoryName, tag: Tag, deletedAt: Date) throws {
        contents.withLockedValue { c in
            let key = Self.tagKey(registry, repository, tag)
            if let record = c.tags.removeValue(forKey: key) { c.deletedTags[key] = DeletedTagRecord(tag: record, deletedAt: deletedAt) }
        }
    }

    public func deletedTags() throws -> [DeletedTagRecord] {
        contents.withLockedValue { c in
            c.deletedTags.sorted { $0.key < $1.key }.map(\.value).filter { c.manifests[$0.tag.digest] != nil }
        }
    }

    public func restoreTag(registry: String, repository: RepositoryName, tag: Tag, at time: Date) throws -> TagRecord? {
        contents.withLockedValue { c in
            let key = Self.tagKey(registry, repository, tag)
            guard let deleted = c.deletedTags.removeValue(forKey: key), c.manifests[deleted.tag.digest] != nil else { return nil }
            let restored = TagRecord(registry: registry, repository: repository, tag: tag, digest: deleted.tag.digest,
                                     mediaType: deleted.tag.mediaType, fetchedAt: time, tier: deleted.tag.tier)
            c.tags[key] = restored
            return restored
        }
    }

    public func makeSink(for digest: Digest) throws -> any ContentSink {
        MemorySink(algorithm: digest.algorithm, store: self)
    }

    public func commit(_ sink: any ContentSink, digest: Digest, expectedSize: Int64?) async throws -> StoredBlob {
        guard let sink = sink as? MemorySink, sink.store === self else { throw StoreError.corrupt("a sink of another store") }
        try await sink.verify(expected: digest, expectedSize: expectedSize)
        let bytes = sink.take()
        contents.withLockedValue { c in
            // The sink's bytes were counted as they came; a blob already stored is not kept twice.
            if c.blobs[digest] != nil { c.used -= Int64(bytes.count) } else { c.blobs[digest] = bytes }
        }
        return StoredBlob(digest: digest, size: Int64(bytes.count), storedSize: Int64(bytes.count), compressed: false)
    }

    public func makeDurable(_ digest: Digest) async throws {
        contents.withLockedValue { _ = $0.durable.insert(digest) }
    }

    public func remove(_ digest: Digest) {
        contents.withLockedValue { c in
            if let bytes = c.blobs.removeValue(forKey: digest) { c.used -= Int64(bytes.count) }
            c.manifests[digest] = nil
            c.manifestRecords.removeAll { $0.digest == digest }
            c.tags = c.tags.filter { $0.value.digest != digest }
            c.deletedTags = c.deletedTags.filter { $0.value.tag.digest != digest }
            c.durable.remove(digest)
        }
    }

    // MARK: Listing

    public func tags(registry: String, repository: RepositoryName) throws -> [Tag] {
        contents.withLockedValue { c in
            c.tags.values.filter { $0.registry == registry && $0.repository == repository }.map(\.tag)
        }.sorted { $0.value < $1.value }
    }

    public func repositories(registry: String) throws -> [RepositoryName] {
        let names = contents.withLockedValue { c in
            Set(c.tags.values.filter { $0.registry == registry }.map(\.repository.value))
                .union(c.manifestRecords.filter { $0.registry == registry }.map(\.repository.value))
        }
        return names.sorted().compactMap { try? RepositoryName($0) }
    }

    // MARK: Room

    /// Takes room for `count` bytes of a sink; false when the store is full.
    fileprivate func reserve(_ count: Int) -> Bool {
        contents.withLockedValue { c in
            guard c.used + Int64(count) <= capacity else { return false }
            c.used += Int64(count)
            return true
        }
    }

    fileprivate func release(_ count: Int) {
        contents.withLockedValue { $0.used -= Int64(count) }
    }
}

/// A stored blob in memory.
struct MemoryContent: StoredContent {
    let digest: Digest
    let bytes: [UInt8]

    var blob: StoredBlob { StoredBlob(digest: digest, size: Int64(bytes.count), storedSize: Int64(bytes.count), compressed: false) }

    func duplicateRawDescriptor() -> Int32? { nil }

    func read(_ lower: Int64, _ upper: Int64, body: (ByteBuffer) async throws -> Void) async throws {
        guard lower >= 0, lower <= upper, upper <= Int64(bytes.count) else { throw StoreError.corrupt("read past the end") }
        try await body(ByteBuffer(bytes: bytes[Int(lower)..<Int(upper)]))
    }
}

/// A blob being written into memory, hashed as it comes.
/// Unchecked: every field is behind the lock (the hasher is a class).
final class MemorySink: ContentSink, @unchecked Sendable {
    private struct State {
        var bytes: [UInt8] = []
        var written: Int64 = 0
        var hasher: ContentHasher
        var discarded = false
    }

    let store: MemoryContentStore
    private let state: NIOLockedValueBox<State>

    init(algorithm: Digest.Algorithm, store: MemoryContentStore) {
        self.store = store
        self.state = NIOLockedValueBox(State(hasher: ContentHasher(algorithm)))
    }

    var written: Int64 { state.withLockedValue { $0.written } }

    func append(_ buffer: ByteBuffer) throws {
        try write(buffer, at: written)
        appendHashOnly(buffer)
    }

    func write(_ buffer: ByteBuffer, at offset: Int64) throws {
        let end = Int(offset) + buffer.readableBytes
        let growth = state.withLockedValue { max(0, end - $0.bytes.count) }
        guard store.reserve(growth) else { throw StoreError.io("write", "memory", errno: ENOSPC) }
        state.withLockedValue { s in
            if s.bytes.count < end { s.bytes += [UInt8](repeating: 0, count: end - s.bytes.count) }
            s.bytes.replaceSubrange(Int(offset)..<end, with: buffer.readableBytesView)
        }
    }

    func adopt(upTo end: Int64) throws {
        try state.withLockedValue { s throws in
            guard end <= Int64(s.bytes.count) else { throw StoreError.corrupt("adopting bytes that were never written") }
            guard end > s.written else { return }
            s.bytes[Int(s.written)..<Int(end)].withUnsafeBytes { s.hasher.update($0) }
            s.written = end
        }
    }

    func appendHashOnly(_ buffer: ByteBuffer) {
        state.withLockedValue { s in
            buffer.withUnsafeReadableBytes { s.hasher.update($0) }
            s.written += Int64(buffer.readableBytes)
        }
    }

    func hashRoom(on eventLoop: any EventLoop) -> EventLoopFuture<Void>? { nil }

    func read(at offset: Int64, count: Int) throws -> ByteBuffer {
        try state.withLockedValue { s throws -> ByteBuffer in
            guard offset >= 0, count >= 0, offset + Int64(count) <= Int64(s.bytes.count) else { throw StoreError.corrupt("read past what was kept") }
            return ByteBuffer(bytes: s.bytes[Int(offset)..<Int(offset) + count])
        }
    }

    func duplicateDescriptor() -> Int32? { nil }

    func verify(expected: Digest, expectedSize: Int64?) async throws(StoreError) {
        let (actual, written) = state.withLockedValue { ($0.hasher.finalize(), $0.written) }
        if let expectedSize, expectedSize != written { throw .sizeMismatch(expected: expectedSize, actual: written) }
        guard actual == expected else { throw .digestMismatch(expected: expected, actual: actual) }
    }

    /// The kept bytes, handed to the store on commit; they stay readable through the
    /// sink for the clients still following the fill (the array is shared, not copied).
    func take() -> [UInt8] {
        state.withLockedValue { s in defer { s.discarded = true }; return s.bytes }
    }

    func discard() {
        let count = state.withLockedValue { s -> Int in
            guard !s.discarded else { return 0 }
            s.discarded = true
            return s.bytes.count
        }
        store.release(count)
    }
}
