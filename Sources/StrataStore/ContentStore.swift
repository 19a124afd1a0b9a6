import Foundation
import NIOCore
import StrataCore

/// A cache's own storage for verified content: manifests and blobs by digest, the tags
/// that point at them, and where a blob being fetched is written until it is verified.
///
/// The pull-through engine works against this protocol only. ``DiskContentStore`` is the
/// local disk (files, SQLite, sendfile), ``MemoryContentStore`` keeps everything in
/// memory (tests, and a model of what every store must do). Every implementation passes
/// the same conformance suite (`ContentStoreConformance` in `StrataTesting`).
///
/// Contract: what a read returns has been verified against its digest (by the store on
/// the way in, and again on the way out where the medium can rot); a read of something
/// absent or damaged returns nil, never wrong bytes. Nothing is visible before
/// ``commit(_:digest:expectedSize:)`` or ``putManifest(_:digest:record:)`` succeeded, and
/// a committed blob is visible at the latest once ``makeDurable(_:)`` returned (the disk
/// shows it at once; the object store uploads it then).
public protocol ContentStore: Sendable {
    /// A manifest's bytes and media type, verified; nil when not stored.
    func manifest(_ digest: Digest) async -> StoredManifest?

    /// A stored blob ready to read; nil when not stored (or found damaged, and dropped).
    func blob(_ digest: Digest) async -> (any StoredContent)?

    /// The tag record for `tag`, if one was set.
    func tag(registry: String, repository: RepositoryName, tag: Tag) async -> TagRecord?

    /// Counts a request served from this store (for eviction and the admin server).
    func recordAccess(_ digest: Digest, at time: Date)

    /// A manifest this store holds in memory, found without waiting (the registry port
    /// answers such hits on the event loop); nil when it would have to be read.
    func manifestInMemory(_ digest: Digest) -> StoredManifest?

    /// A tag record this store holds in memory, found without waiting; nil when it would
    /// have to be read.
    func tagInMemory(registry: String, repository: RepositoryName, tag: Tag) -> TagRecord?

    /// The file holding a stored blob's raw bytes, when this store knows the blob in
    /// memory and it needs no check on read (see ``DiskContentStore/verifyOnReadLimit``):
    /// a path to open without waiting. nil when the blob must be read the whole way.
    func rawFileInMemory(_ digest: Digest) -> (blob: StoredBlob, path: String)?

    /// Stores a manifest whose bytes were checked against `digest`, and records which
    /// repository it was fetched for. Throws ``StoreError`` when it does not match.
    @discardableResult
    func putManifest(_ bytes: [UInt8], digest: Digest, record: ManifestRecord) async throws -> StoredBlob

    /// Points a tag at a digest, with when that was learnt.
    func setTag(_ record: TagRecord) async throws

    /// Moves a tag to the deleted tags (upstream deleted it): it is no longer read or
    /// listed, and where it pointed stays for an operator to see (``deletedTags()``) and
    /// put back (``restoreTag(registry:repository:tag:at:)``). The manifest stays.
    func removeTag(registry: String, repository: RepositoryName, tag: Tag, deletedAt: Date) async throws

    /// The tags upstream deleted whose manifest is still stored.
    func deletedTags() async throws -> [DeletedTagRecord]

    /// Puts a deleted tag back, fetched at `time` (fresh for one `tag_ttl`); nil when no
    /// such tag was deleted. Setting a tag again also ends its deleted record.
    func restoreTag(registry: String, repository: RepositoryName, tag: Tag, at time: Date) async throws -> TagRecord?

    /// Somewhere to write a blob as it arrives, hashed on the way.
    func makeSink(for digest: Digest) throws -> any ContentSink

    /// Verifies what `sink` received against `digest` (and `expectedSize`, when known).
    /// It may not be visible or durable yet: ``makeDurable(_:)`` follows, after the fill's
    /// clients were given the last byte.
    /// Throws a ``StoreError`` that `isVerificationFailure` when the bytes are wrong
    /// (nothing is stored), or that `isDiskFull` when there is no room to keep them.
    func commit(_ sink: any ContentSink, digest: Digest, expectedSize: Int64?) async throws -> StoredBlob

    /// Waits until a committed blob is visible to every reader and survives a crash.
    func makeDurable(_ digest: Digest) async throws

    /// Removes a blob or manifest and whatever points at it in memory.
    func remove(_ digest: Digest) async

    /// The tags set in one repository, sorted.
    func tags(registry: String, repository: RepositoryName) async throws -> [Tag]

    /// The repositories with a tag or manifest stored, sorted.
    func repositories(registry: String) async throws -> [RepositoryName]
}

extension ContentStore {
    /// A store that keeps nothing in memory: every read waits.
    public func manifestInMemory(_ digest: Digest) -> StoredManifest? { nil }
    public func tagInMemory(registry: String, repository: RepositoryName, tag: Tag) -> TagRecord? { nil }
    public func rawFileInMemory(_ digest: Digest) -> (blob: StoredBlob, path: String)? { nil }
}

public typealias TagRecord = CacheIndex.TagRow
public typealias ManifestRecord = CacheIndex.ManifestRow
public typealias DeletedTagRecord = CacheIndex.DeletedTagRow

/// A stored manifest: its bytes, verified, and its media type.
public struct StoredManifest: Sendable, Equatable {
    public let bytes: [UInt8]
    public let mediaType: String

    public init(bytes: [UInt8], mediaType: String) {
        self.bytes = bytes
        self.mediaType = mediaType
    }
}

/// A stored blob opened for reading.
public protocol StoredContent: Sendable {
    var blob: StoredBlob { get }

    /// A new descriptor of a file holding the blob's bytes as they are (for sendfile),
    /// which the caller owns and closes; nil when there is no such file.
    func duplicateRawDescriptor() -> Int32?

    /// Streams bytes `lower..<upper` to `body`.
    func read(_ lower: Int64, _ upper: Int64, body: (ByteBuffer) async throws -> Void) async throws

    /// Streams bytes `lower..<upper` to `body` in groups of buffers that a response
    /// writes in one go (a compressed frame's pieces).
    func readPieces(_ lower: Int64, _ upper: Int64, body: ([ByteBuffer]) async throws -> Void) async throws
}

extension StoredContent {
    public func readPieces(_ lower: Int64, _ upper: Int64, body: ([ByteBuffer]) async throws -> Void) async throws {
        try await read(lower, upper) { try await body([$0]) }
    }
}

/// Where one blob is written while it is fetched: appended in order by one task,
/// hashed as it goes, read back by the clients following the fill.
public protocol ContentSink: AnyObject, Sendable {
    /// Bytes appended (or hashed only) so far.
    var written: Int64 { get }

    /// Keeps and hashes bytes. Throws a ``StoreError`` that `isDiskFull` when there is
    /// no room; the caller may then go on with ``appendHashOnly(_:)``.
    func append(_ buffer: ByteBuffer) throws

    /// Hashes and counts bytes without keeping them.
    func appendHashOnly(_ buffer: ByteBuffer)

    /// Keeps bytes at `offset`, past what was appended, without hashing or counting them
    /// (a part of a parallel ranged fill). Parts may write at once, each to its own range.
    func write(_ buffer: ByteBuffer, at offset: Int64) throws

    /// Hashes and counts, in order, the bytes ``write(_:at:)`` kept from ``written`` up to
    /// `end`. Only the task that appends calls it.
    func adopt(upTo end: Int64) throws

    /// nil when hashing keeps up, else a future for when the caller may append more.
    func hashRoom(on eventLoop: any EventLoop) -> EventLoopFuture<Void>?

    /// Bytes `offset..<offset+count` of what was kept so far; still readable after
    /// the blob was committed (clients following the fill read on).
    func read(at offset: Int64, count: Int) throws -> ByteBuffer

    /// A new descriptor of the file being written (for sendfile), which the caller owns
    /// and closes; nil when the bytes are not in a file.
    func duplicateDescriptor() -> Int32?

    /// Finishes hashing and checks the blob; nothing may be appended afterwards.
    func verify(expected: Digest, expectedSize: Int64?) async throws(StoreError)

    /// Throws away what was kept. Readers that hold a descriptor keep reading.
    func discard()
}
