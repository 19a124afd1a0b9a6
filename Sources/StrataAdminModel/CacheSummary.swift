import Foundation

/// A cached tag, as `GET /api/cache` lists it.
public struct CachedTag: Sendable, Codable, Equatable {
    public let tag: String
    public let digest: String
    public let mediaType: String
    /// Bytes of the image (config and layers; for an index, its cached platform images).
    public let size: Int64
    /// Bytes of it on disk.
    public let storedSize: Int64
    public let platforms: [String]
    public let fetchedAt: Date
    public let tier: String
    public let lastAccess: Date?
    public let hits: Int

    public init(tag: String, digest: String, mediaType: String, size: Int64, storedSize: Int64, platforms: [String],
                fetchedAt: Date, tier: String, lastAccess: Date?, hits: Int) {
        self.tag = tag
        self.digest = digest
        self.mediaType = mediaType
        self.size = size
        self.storedSize = storedSize
        self.platforms = platforms
        self.fetchedAt = fetchedAt
        self.tier = tier
        self.lastAccess = lastAccess
        self.hits = hits
    }
}

/// A cached repository with its tags.
public struct CachedRepository: Sendable, Codable, Equatable {
    public let registry: String
    public let repository: String
    public let tags: [CachedTag]
    public let manifests: Int
    public let size: Int64
    public let storedSize: Int64
    public let lastAccess: Date?

    public init(registry: String, repository: String, tags: [CachedTag], manifests: Int, size: Int64, storedSize: Int64, lastAccess: Date?) {
        self.registry = registry
        self.repository = repository
        self.tags = tags
        self.manifests = manifests
        self.size = size
        self.storedSize = storedSize
        self.lastAccess = lastAccess
    }
}

/// What is cached, as `GET /api/cache` answers.
public struct CacheSummary: Sendable, Codable, Equatable {
    public let repositories: [CachedRepository]
    public let blobs: Int
    public let storedBytes: Int64
    public let contentBytes: Int64
    /// The cache's bound (`cache.max_size`), when it has one.
    public var maxBytes: Int64?

    public init(repositories: [CachedRepository], blobs: Int, storedBytes: Int64, contentBytes: Int64) {
        self.repositories = repositories
        self.blobs = blobs
        self.storedBytes = storedBytes
        self.contentBytes = contentBytes
    }
}
