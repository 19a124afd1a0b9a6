import Foundation
import NIOConcurrencyHelpers
import NIOCore
import StrataCore
import StrataStore
import StrataUpstream

/// An S3 bucket as a ``ContentStore``: the shared store that N replicas of a central
/// mirror sit on.
///
/// Keys under `prefix`:
/// - `blobs/<algorithm>/<hex>`: a blob or manifest, written only after its digest was
///   verified, with the digest signed as the payload hash (the store checks the bytes
///   too). A manifest carries its media type as `Content-Type`.
/// - `tags/<registry>/<repository>:<tag>`: a tag record (JSON: digest, media type, when
///   it was learnt, from which tier), shared by every replica.
/// - `refs/<algorithm>/<hex>/<registry>/<repository>:<tag>`: which tags point at a digest,
///   so that removing it removes them.
/// - `repositories/<registry>/<repository>`: a repository with a manifest stored.
///
/// A fill writes to a temp file on the replica's own disk (`scratch`) and is uploaded
/// when it is verified: a single `PUT` up to ``partSize``, else a multipart upload.
public final class S3ContentStore: ContentStore {
    public let client: S3Client
    public let prefix: String
    /// Where fills are written before upload (the replica's own disk).
    private let scratch: BlobStore
    /// Blobs up to this size are uploaded in one `PUT`; larger ones in parts of this size.
    public let partSize: Int
    private let accesses = NIOLockedValueBox<[Digest: Double]>([:])
    /// Verified blobs waiting for their upload (``makeDurable(_:)``).
    let pending = NIOLockedValueBox<[Digest: BlobWriter]>([:])
    /// The fill leases this replica holds, to renew while their fills last.
    let held = NIOLockedValueBox<[Digest: HeldLease]>([:])
    /// Blobs and manifests up to this size are read whole and verified on every read.
    static let verifyOnReadLimit: Int64 = 256 << 10

    public init(client: S3Client, prefix: String = "", scratch: BlobStore, partSize: Int = 16 << 20) {
        self.client = client
        self.prefix = prefix.isEmpty || prefix.hasSuffix("/") ? prefix : prefix + "/"
        self.scratch = scratch
        self.partSize = max(5 << 20, partSize)
    }

    // MARK: Keys

    func blobKey(_ digest: Digest) -> String { "\(prefix)blobs/\(digest.algorithm.rawValue)/\(digest.hex)" }
    func tagKey(_ registry: String, _ repository: RepositoryName, _ tag: Tag) -> String { "\(prefix)tags/\(registry)/\(repository.value):\(tag.value)" }
    func refPrefix(_ digest: Digest) -> String { "\(prefix)refs/\(digest.algorithm.rawValue)/\(digest.hex)/" }
    func repositoryKey(_ registry: String, _ repository: RepositoryName) -> String { "\(prefix)repositories/\(registry)/\(repository.value)" }
    func leaseKey(_ digest: Digest) -> String { "\(prefix)leases/\(digest.algorithm.rawValue)/\(digest.hex)" }

    static let blobType = "application/octet-stream"

    // MARK: Reading

    public func manifest(_ digest: Digest) async -> StoredManifest? {
        guard let found = try? await client.get(blobKey(digest), maxSize: 16 << 20),
              let mediaType = found.object.contentType, mediaType != Self.blobType,
              ContentHasher.digest(of: found.bytes, algorithm: digest.algorithm) == digest else { return nil }
        return StoredManifest(bytes: found.bytes, mediaType: mediaType)
    }

    public func blob(_ digest: Digest) async -> (any StoredContent)? {
        let key = blobKey(digest)
        guard let object = try? await client.head(key) else { return nil }
        let blob = StoredBlob(digest: digest, size: object.size, storedSize: object.size, compressed: false)
        guard object.size <= Self.verifyOnReadLimit else { return ObjectContent(client: client, key: key, blob: blob) }
        guard let found = try? await client.get(key), ContentHasher.digest(of: found.bytes, algorithm: digest.algorithm) == digest else {
            return nil
        }
        return VerifiedContent(blob: blob, bytes: found.bytes)
    }

    public func tag(registry: String, repository: RepositoryName, tag: Tag) async -> TagRecord? {
        guard let found = try? await client.get(tagKey(registry, repository, tag), maxSize: 64 << 10),
              let record = try? JSONDecoder().decode(TagFile.self, from: Data(found.bytes)),
              let digest = try? Digest(parsing: record.digest) else { return nil }
        return TagRecord(registry: registry, repository: repository, tag: tag, digest: digest, mediaType: record.mediaType,
                         fetchedAt: Date(timeIntervalSince1970: Double(record.fetchedAtMillis) / 1000), tier: record.tier)
    }

    /// A tag record as stored. The time is kept in whole milliseconds, rounded down and less one: read
    /// back, it is never later than it was (a time a hair in the future would make the
    /// record look as if the clock went backwards, and so stale).
    struct TagFile: Codable {
        let digest: String
        let mediaType: String
        let fetchedAtMillis: Int64
        let tier: String
    }

    /// Counts a hit in memory; ``SharedJanitor`` writes them to the bucket in batches.
    public func recordAccess(_ digest: Digest, at time: Date) {
        accesses.withLockedValue { $0[digest] = max($0[digest] ?? 0, time.timeIntervalSince1970) }
    }

    /// The hits counted since the last call (seconds since 1970, the latest per blob).
    func takeAccesses() -> [Digest: Double] {
        accesses.withLockedValue { table in defer { table = [:] }; return table }
    }

    // MARK: Writing

    public func putManifest(_ bytes: [UInt8], digest: Digest, record: ManifestRecord) async throws -> StoredBlob {
        let actual = ContentHasher.digest(of: bytes, algorithm: digest.algorithm)
        guard actual == digest else { throw StoreError.digestMismatch(expected: digest, actual: actual) }
        try await client.put(blobKey(digest), ByteBuffer(bytes: bytes), contentType: record.mediaType)
        try await client.put(repositoryKey(record.registry, record.repository), ByteBuffer())
        return StoredBlob(digest: digest, size: Int64(bytes.count), storedSize: Int64(bytes.count), compressed: false)
    }

    public func setTag(_ record: TagRecord) async throws {
        // A tag set again is no longer deleted.
        try await client.delete(deletedTagKey(record.registry, record.repository, record.tag))
        let file = TagFile(digest: record.digest.description, mediaType: record.mediaType,
                           fetchedAtMillis: Int64((record.fetchedAt.timeIntervalSince1970 * 1000).rounded(.down)) - 1, tier: record.tier)
        try await client.put(tagKey(record.registry, record.repository, record.tag), ByteBuffer(bytes: try JSONEncoder().encode(file)),
                             contentType: "application/json")
        try await client.put(refPrefix(record.digest) + "\(record.registry)/\(record.repository.value):\(record.tag.value)", ByteBuffer())
    }

    public func removeTag(registry: String, repository: RepositoryName, tag: Tag, deletedAt: Date) async throws {
        let key = tagKey(registry, repository, tag)
        if let record = await self.tag(registry: registry, repository: repository, tag: tag) {
            let file = DeletedTagFile(digest: record.digest.description, mediaType: record.mediaType, tier: record.tier,
                                      deletedAtMillis: Int64((deletedAt.timeIntervalSince1970 * 1000).rounded(.down)))
            try await client.put(deletedTagKey(registry, repository, tag), ByteBuffer(bytes: try JSONEncoder().encode(file)),
                                 contentType: "application/json")
            try await client.delete(refPrefix(record.digest) + "\(registry)/\(repository.value):\(tag.value)")
        }
        try await client.delete(key)
    }

    /// A deleted tag as stored under `deleted-tags/`.
    struct DeletedTagFile: Codable {
        let digest: String
        let mediaType: String
        let tier: String
        let deletedAtMillis: Int64
    }

    func deletedTagKey(_ registry: String, _ repository: RepositoryName, _ tag: Tag) -> String {
        "\(prefix)deleted-tags/\(registry)/\(repository.value):\(tag.value)"
    }

    /// Most deleted tags listed: each is one `GET`.
    static let maxDeletedTagsListed = 1000

    public func deletedTags() async throws -> [DeletedTagRecord] {
        let start = "\(prefix)deleted-tags/"
        var out: [DeletedTagRecord] = []
        for key in try await client.listAll(prefix: start).sorted().prefix(Self.maxDeletedTagsListed) {
            let name = key.dropFirst(start.count)
            guard let slash = name.firstIndex(of: "/"), let colon = name.lastIndex(of: ":"), slash < colon,
                  let repository = try? RepositoryName(String(name[name.index(after: slash)..<colon])),
                  let tag = try? Tag(String(name[name.index(after: colon)...])),
                  let record = await deletedTag(String(name[..<slash]), repository, tag) else { continue }
            out.append(record)
        }
        return out
    }

    /// One deleted tag, when its manifest is still in the bucket.
    private func deletedTag(_ registry: String, _ repository: RepositoryName, _ tag: Tag) async -> DeletedTagRecord? {
        guard let found = try? await client.get(deletedTagKey(registry, repository, tag), maxSize: 64 << 10),
              let file = try? JSONDecoder().decode(DeletedTagFile.self, from: Data(found.bytes)),
              let digest = try? Digest(parsing: file.digest),
              (try? await client.head(blobKey(digest))) != nil else { return nil }
        return DeletedTagRecord(tag: TagRecord(registry: registry, repository: repository, tag: tag, digest: digest, mediaType: file.mediaType,
                                               fetchedAt: Date(timeIntervalSince1970: Double(file.deletedAtMillis) / 1000), tier: file.tier),
                                deletedAt: Date(timeIntervalSince1970: Double(file.deletedAtMillis) / 1000))
    }

    public func restoreTag(registry: String, repository: RepositoryName, tag: Tag, at time: Date) async throws -> TagRecord? {
        guard let deleted = await deletedTag(registry, repository, tag) else { return nil }
        let restored = TagRecord(registry: registry, repository: repository, tag: tag, digest: deleted.tag.digest,
                                 mediaType: deleted.tag.mediaType, fetchedAt: time, tier: deleted.tag.tier)
        try await setTag(restored)
        return restored
    }

    public func makeSink(for digest: Digest) throws -> any ContentSink {
        try scratch.makeWriter(algorithm: digest.algorithm, hashLane: true)
    }

    /// Verifies the blob; the upload waits for ``makeDurable(_:)``, which the engine calls
    /// after it released the blob's last byte to its clients: they do not wait for the
    /// store. Until the upload ends, this replica serves the blob from its temp file.
    public func commit(_ sink: any ContentSink, digest: Digest, expectedSize: Int64?) async throws -> StoredBlob {
        guard let writer = sink as? BlobWriter else { throw StoreError.corrupt("a sink of another store") }
        try await writer.verify(expected: digest, expectedSize: expectedSize)
        pending.withLockedValue { $0[digest] = writer }
        return StoredBlob(digest: digest, size: writer.written, storedSize: writer.written, compressed: false)
    }

    /// Uploads a verified blob, unless another replica stored it meanwhile (it filled from
    /// the same lease holder); then the blob's lease goes.
    public func makeDurable(_ digest: Digest) async throws {
        guard let writer = pending.withLockedValue({ $0.removeValue(forKey: digest) }) else { return }
        let size = writer.written
        if let existing = try? await client.head(blobKey(digest)), existing.size == size {
            await releaseLease(digest)
            return
        }
        try await upload(size: size, key: blobKey(digest)) { offset, count in try writer.read(at: offset, count: count) }
        await releaseLease(digest)
    }

    /// A blob a replica stored on its own disk, verified, written to the bucket unless it
    /// is there already or another replica will write it (it holds the blob's lease: this
    /// replica fetched the blob from it). A blob whose lease this replica holds is written
    /// and its lease released. Returns whether it was uploaded.
    @discardableResult
    public func writeBack(_ digest: Digest, from content: any StoredContent) async throws -> Bool {
        let size = content.blob.size
        let mine = held.withLockedValue { $0[digest] != nil }
        if let existing = try await client.head(blobKey(digest)), existing.size == size {
            if mine { await releaseLease(digest) }
            return false
        }
        if !mine, let lease = try await readLease(leaseKey(digest)), lease.expires > Date().timeIntervalSince1970 {
            return false
        }
        try await upload(size: size, key: blobKey(digest)) { offset, count in
            var buffer = ByteBufferAllocator().buffer(capacity: count)
            try await content.read(offset, offset + Int64(count)) { part in buffer.writeImmutableBuffer(part) }
            guard buffer.readableBytes == count else { throw StoreError.corrupt("\(digest): \(buffer.readableBytes) of \(count) bytes read back") }
            return buffer
        }
        if mine { await releaseLease(digest) }
        return true
    }

    /// Uploads a verified blob of `size` bytes read by `read(offset, count)`: one `PUT`,
    /// or parts that become visible together only when the upload completes (a torn
    /// upload is aborted, never visible).
    private func upload(size: Int64, key: String, read: (Int64, Int) async throws -> ByteBuffer) async throws {
        if size <= Int64(partSize) {
            try await client.put(key, try await read(0, Int(size)), contentType: Self.blobType)
            return
        }
        let id = try await client.createUpload(key, contentType: Self.blobType)
        do {
            var etags: [String] = []
            var offset: Int64 = 0
            while offset < size {
                let count = Int(min(Int64(partSize), size - offset))
                etags.append(try await client.uploadPart(key, uploadID: id, number: etags.count + 1, try await read(offset, count)))
                offset += Int64(count)
            }
            try await client.completeUpload(key, uploadID: id, etags: etags)
        } catch {
            await client.abortUpload(key, uploadID: id)
            throw error
        }
    }

    public func remove(_ digest: Digest) async {
        try? await client.delete(blobKey(digest))
        let refs = (try? await client.listAll(prefix: refPrefix(digest))) ?? []
        for ref in refs {
            let name = String(ref.dropFirst(refPrefix(digest).count))
            let tagKey = "\(prefix)tags/\(name)"
            // Only a tag that still points at this digest goes.
            if let found = try? await client.get(tagKey, maxSize: 64 << 10),
               let record = try? JSONDecoder().decode(TagFile.self, from: Data(found.bytes)), record.digest == digest.description {
                try? await client.delete(tagKey)
            }
            try? await client.delete(ref)
        }
    }

    // MARK: Listing

    public func tags(registry: String, repository: RepositoryName) async throws -> [Tag] {
        let start = "\(prefix)tags/\(registry)/\(repository.value):"
        return try await client.listAll(prefix: start).compactMap { try? Tag(String($0.dropFirst(start.count))) }.sorted { $0.value < $1.value }
    }

    public func repositories(registry: String) async throws -> [RepositoryName] {
        let start = "\(prefix)repositories/\(registry)/"
        let fromManifests = try await client.listAll(prefix: start).map { String($0.dropFirst(start.count)) }
        let tagStart = "\(prefix)tags/\(registry)/"
        let fromTags = try await client.listAll(prefix: tagStart).compactMap { $0.dropFirst(tagStart.count).split(separator: ":").first.map(String.init) }
        return Set(fromManifests + fromTags).sorted().compactMap { try? RepositoryName($0) }
    }
}

/// A blob in the bucket, read with ranged `GET`s.
struct ObjectContent: StoredContent, BlobStreamSource {
    let client: S3Client
    let key: String
    let blob: StoredBlob

    func duplicateRawDescriptor() -> Int32? { nil }

    /// The bytes as the store sends them, checked for their count by the reply's length;
    /// whoever consumes them checks the digest.
    func stream(from lower: Int64, to upper: Int64) async throws -> any BlobStream {
        guard lower < upper else { return PushedBlobStream { _ in } }
        return try await client.getStreamed(key, lower..<upper)
    }

    func read(_ lower: Int64, _ upper: Int64, body: (ByteBuffer) async throws -> Void) async throws {
        guard lower < upper else { return }
        guard let response = try await client.getRange(key, lower..<upper) else { throw StoreError.notFound(blob.digest) }
        // Fills read the bucket through `stream(from:to:)`; this path is for the few
        // readers that need the store's own interface, part by part.
        var received: Int64 = 0
        for try await part in response.body {
            received += Int64(part.readableBytes)
            guard received <= upper - lower else { throw StoreError.corrupt("\(key): more bytes than asked for") }
            try await body(part)
        }
        guard received == upper - lower else { throw StoreError.corrupt("\(key): \(received) of \(upper - lower) bytes") }
    }
}

/// A small blob read whole and verified.
struct VerifiedContent: StoredContent {
    let blob: StoredBlob
    let bytes: [UInt8]

    func duplicateRawDescriptor() -> Int32? { nil }

    func read(_ lower: Int64, _ upper: Int64, body: (ByteBuffer) async throws -> Void) async throws {
        guard lower >= 0, lower <= upper, upper <= Int64(bytes.count) else { throw StoreError.corrupt("read past the end") }
        try await body(ByteBuffer(bytes: bytes[Int(lower)..<Int(upper)]))
    }
}
