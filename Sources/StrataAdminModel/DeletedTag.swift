import Foundation

/// A tag upstream deleted, kept with its last digest (`GET /api/tags/deleted`,
/// `strata ls --deleted`) so an operator can put it back (`strata restore-tag`).
public struct DeletedTag: Sendable, Codable, Equatable {
    public let registry: String
    public let repository: String
    public let tag: String
    public let digest: String
    public let mediaType: String
    public let deletedAt: Date

    public init(registry: String, repository: String, tag: String, digest: String, mediaType: String, deletedAt: Date) {
        self.registry = registry
        self.repository = repository
        self.tag = tag
        self.digest = digest
        self.mediaType = mediaType
        self.deletedAt = deletedAt
    }
}

/// `GET /api/tags/deleted`.
public struct DeletedTags: Sendable, Codable, Equatable {
    public let deleted: [DeletedTag]

    public init(deleted: [DeletedTag]) {
        self.deleted = deleted
    }
}
