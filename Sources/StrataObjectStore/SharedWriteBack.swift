import Foundation
import Logging
import StrataCore
import StrataStore

/// A replica's own store (its disk) that writes each blob it stores back to the shared
/// bucket once the blob is durable: a blob fetched from upstream goes to the bucket from
/// the replica's verified copy, without a second temp file or a second hash on the way
/// in. Blobs the bucket has, or that another replica is filling (it holds the lease and
/// writes it back itself), are not written again. Everything else is the disk's.
public final class SharedWriteBack: ContentStore {
    public let local: any ContentStore
    public let shared: S3ContentStore
    let logger: Logger

    public init(local: any ContentStore, shared: S3ContentStore, logger: Logger) {
        self.local = local
        self.shared = shared
        self.logger = logger
    }

    public func makeDurable(_ digest: Digest) async throws {
        try await local.makeDurable(digest)
        guard let content = await local.blob(digest) else { return }
        do {
            if try await shared.writeBack(digest, from: content) {
                logger.debug("blob written back to the shared store", metadata: ["digest": "\(digest)"])
            }
        } catch {
            // The bucket misses it; the next replica that asks fetches it again.
            logger.warning("cannot write a blob back to the shared store", metadata: ["digest": "\(digest)", "error": "\(error)"])
        }
    }

    // MARK: The disk's

    public func manifest(_ digest: Digest) async -> StoredManifest? { await local.manifest(digest) }
    public func blob(_ digest: Digest) async -> (any StoredContent)? { await local.blob(digest) }
    public func tag(registry: String, repository: RepositoryName, tag: Tag) async -> TagRecord? {
        await local.tag(registry: registry, repository: repository, tag: tag)
    }
    public func recordAccess(_ digest: Digest, at time: Date) { local.recordAccess(digest, at: time) }
    public func manifestInMemory(_ digest: Digest) -> StoredManifest? { local.manifestInMemory(digest) }
    public func tagInMemory(registry: String, repository: RepositoryName, tag: Tag) -> TagRecord? {
        local.tagInMemory(registry: registry, repository: repository, tag: tag)
    }
    public func rawFileInMemory(_ digest: Digest) -> (blob: StoredBlob, path: String)? { local.rawFileInMemory(digest) }
    @discardableResult
    public func putManifest(_ bytes: [UInt8], digest: Digest, record: ManifestRecord) async throws -> StoredBlob {
        try await local.putManifest(bytes, digest: digest, record: record)
    }
    public func setTag(_ record: TagRecord) async throws { try await local.setTag(record) }
    public func removeTag(registry: String, repository: RepositoryName, tag: Tag, deletedAt: Date) async throws {
        try await local.removeTag(registry: registry, repository: repository, tag: tag, deletedAt: deletedAt)
    }
    public func deletedTags() async throws -> [DeletedTagRecord] { try await local.deletedTags() }
    public func restoreTag(registry: String, repository: RepositoryName, tag: Tag, at time: Date) async throws -> TagRecord? {
        try await local.restoreTag(registry: registry, repository: repository, tag: tag, at: time)
    }
    public func makeSink(for digest: Digest) throws -> any ContentSink { try local.makeSink(for: digest) }
    public func commit(_ sink: any ContentSink, digest: Digest, expectedSize: Int64?) async throws -> StoredBlob {
        try await local.commit(sink, digest: digest, expectedSize: expectedSize)
    }
    public func remove(_ digest: Digest) async { await local.remove(digest) }
    public func tags(registry: String, repository: RepositoryName) async throws -> [Tag] {
        try await local.tags(registry: registry, repository: repository)
    }
    public func repositories(registry: String) async throws -> [RepositoryName] {
        try await local.repositories(registry: registry)
    }
}
