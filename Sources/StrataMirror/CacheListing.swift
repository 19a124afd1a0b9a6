import Foundation
import StrataCore
import StrataStore

/// What the admin server lists of the disk cache: repositories, tags, sizes, platforms.
extension DiskContentStore {
    /// The cache's content, as `gcloud container images list` would list a mirror's.
    public func cacheListing(registry: String? = nil, repository: String? = nil) async throws -> CacheSummary {
        let blobs = try index.allBlobs()
        let byDigest = Dictionary(blobs.map { ($0.digest, $0) }, uniquingKeysWith: { a, _ in a })
        let tags = try index.allTags()
        let manifests = try index.allManifests()
        struct Key: Hashable { let registry: String; let repository: String }
        var grouped: [Key: [CacheIndex.TagRow]] = [:]
        for tag in tags { grouped[Key(registry: tag.registry, repository: tag.repository.value), default: []].append(tag) }
        for manifest in manifests where grouped[Key(registry: manifest.registry, repository: manifest.repository.value)] == nil {
            grouped[Key(registry: manifest.registry, repository: manifest.repository.value)] = []
        }
        var repositories: [CachedRepository] = []
        for key in grouped.keys.sorted(by: { ($0.registry, $0.repository) < ($1.registry, $1.repository) }) {
            if let registry, key.registry != registry { continue }
            // Referrers lists are kept as tags of their own namespace: not images.
            if key.registry.hasSuffix("~referrers") { continue }
            if let repository, key.repository != repository { continue }
            var cachedTags: [CachedTag] = []
            var repoDigests = Set<Digest>()
            for row in grouped[key] ?? [] {
                let (size, stored, platforms, digests) = await imageSize(row.digest, byDigest)
                repoDigests.formUnion(digests)
                let blob = byDigest[row.digest]
                cachedTags.append(CachedTag(tag: row.tag.value, digest: row.digest.description, mediaType: row.mediaType, size: size,
                                            storedSize: stored, platforms: platforms, fetchedAt: row.fetchedAt, tier: row.tier,
                                            lastAccess: blob?.lastAccess, hits: blob?.hits ?? 0))
            }
            let repoManifests = manifests.filter { $0.registry == key.registry && $0.repository.value == key.repository }
            for manifest in repoManifests { repoDigests.formUnion(await imageSize(manifest.digest, byDigest).3) }
            let rows = repoDigests.compactMap { byDigest[$0] }
            repositories.append(CachedRepository(
                registry: key.registry, repository: key.repository, tags: cachedTags, manifests: repoManifests.count,
                size: rows.reduce(0) { $0 + $1.size }, storedSize: rows.reduce(0) { $0 + $1.storedSize },
                lastAccess: rows.map(\.lastAccess).max()))
        }
        return CacheSummary(repositories: repositories, blobs: blobs.count,
                            storedBytes: blobs.reduce(0) { $0 + $1.storedSize }, contentBytes: blobs.reduce(0) { $0 + $1.size })
    }

    /// Size, stored size, platforms and every cached digest of the image a manifest names.
    private func imageSize(_ digest: Digest, _ blobs: [Digest: CacheIndex.BlobRow]) async -> (Int64, Int64, [String], Set<Digest>) {
        guard blobs[digest] != nil, let bytes = try? await self.blobs.readAll(digest),
              let references = try? ManifestReferences(parsing: bytes) else { return (0, 0, [], []) }
        var digests: Set<Digest> = [digest]
        if !references.manifests.isEmpty {
            var size: Int64 = 0, stored: Int64 = 0
            for child in references.manifests where blobs[child.digest] != nil {
                let (s, st, _, d) = await imageSize(child.digest, blobs)
                size += s
                stored += st
                digests.formUnion(d)
            }
            // The platforms that are here: an index may list more than were pulled.
            return (size, stored, references.manifests.filter { blobs[$0.digest] != nil }.compactMap(\.platform), digests)
        }
        let parts = ([references.config].compactMap { $0 } + references.layers)
        for part in parts where blobs[part.digest] != nil { digests.insert(part.digest) }
        let stored = parts.compactMap { blobs[$0.digest]?.storedSize }.reduce(0, +)
        return (references.contentSize, stored, [], digests)
    }
}
