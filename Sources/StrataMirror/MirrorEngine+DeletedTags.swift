import Foundation
import StrataAdminModel
import StrataCore
import StrataStore

/// Tags upstream deleted: the store keeps where they pointed, the operator sees them and
/// may put one back. A restored tag is fresh for one `tag_ttl`; after that it is
/// revalidated like any tag (and, if upstream still lacks it, deleted again unless
/// `cache.deleted_tags: keep` or cache-only mode).
extension MirrorEngine {
    public func deletedTags() async throws -> [DeletedTag] {
        try await local.deletedTags().map {
            DeletedTag(registry: $0.tag.registry, repository: $0.tag.repository.value, tag: $0.tag.tag.value,
                       digest: $0.tag.digest.description, mediaType: $0.tag.mediaType, deletedAt: $0.deletedAt)
        }
    }

    /// Puts a deleted tag back; nil when no such tag was deleted (or its manifest is gone).
    public func restoreTag(registry: String, repository: RepositoryName, tag: Tag) async throws -> DeletedTag? {
        guard let restored = try await local.restoreTag(registry: registry, repository: repository, tag: tag, at: now()) else { return nil }
        let flightKey = "\(registry)/\(repository):\(tag)"
        negative.remove(flightKey)
        negative.remove(Self.deletedKey(flightKey))
        logger.notice("deleted tag restored", metadata: ["repository": "\(repository)", "tag": "\(tag)", "digest": "\(restored.digest)"])
        return DeletedTag(registry: registry, repository: repository.value, tag: tag.value, digest: restored.digest.description,
                          mediaType: restored.mediaType, deletedAt: now())
    }
}
