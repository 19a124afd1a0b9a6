import Foundation
import GRDB
import NIOConcurrencyHelpers
import StrataCore

/// The SQLite index of the cache: tags, manifests per repository, blob sizes and access.
///
/// ```
/// blobs(digest PK, size, stored_size, compressed, media_type, created_at, last_access, hits)
/// tags(registry, repository, tag, digest, media_type, fetched_at, tier)   PK(registry, repository, tag)
/// manifests(registry, repository, digest, media_type, fetched_at, tier)   PK(registry, repository, digest)
/// deleted_tags(registry, repository, tag, digest, media_type, fetched_at, tier, deleted_at)   PK(registry, repository, tag)
/// ```
///
/// Blobs are shared by every repository (content-addressed); tags and manifests are
/// keyed by the registry they came from, so `docker.io/library/x` and
/// `ghcr.io/library/x` never mix.
public final class CacheIndex: Sendable {
    /// The open database; replaced by ``reopen()`` when its file vanished.
    private let current: NIOLockedValueBox<DatabaseQueue>
    private var queue: DatabaseQueue { current.withLockedValue { $0 } }
    private let path: String?

    public init(path: String) throws {
        self.path = path
        let queue = try Self.open(path)
        try Self.migrate(queue)
        current = NIOLockedValueBox(queue)
    }

    /// An index that lives in memory only, for tests.
    public init() throws {
        path = nil
        let queue = try DatabaseQueue()
        try Self.migrate(queue)
        current = NIOLockedValueBox(queue)
    }

    private static func open(_ path: String) throws -> DatabaseQueue {
        var config = Configuration()
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        return try DatabaseQueue(path: path, configuration: config)
    }

    /// Whether the index file is still where it was opened (a deleted cache directory
    /// takes it along, and SQLite would go on writing to the unlinked file).
    public var fileExists: Bool {
        guard let path else { return true }
        return FileManager.default.fileExists(atPath: path)
    }

    /// Opens a new, empty index at the same path, for a cache directory that was rebuilt.
    public func reopen() throws {
        guard let path else { return }
        let fresh = try Self.open(path)
        try Self.migrate(fresh)
        current.withLockedValue { $0 = fresh }
    }

    private static func migrate(_ queue: DatabaseQueue) throws {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE blobs (
                    digest TEXT PRIMARY KEY NOT NULL,
                    size INTEGER NOT NULL,
                    stored_size INTEGER NOT NULL,
                    compressed INTEGER NOT NULL,
                    media_type TEXT,
                    created_at REAL NOT NULL,
                    last_access REAL NOT NULL,
                    hits INTEGER NOT NULL DEFAULT 0
                );
                CREATE TABLE tags (
                    registry TEXT NOT NULL,
                    repository TEXT NOT NULL,
                    tag TEXT NOT NULL,
                    digest TEXT NOT NULL,
                    media_type TEXT NOT NULL,
                    fetched_at REAL NOT NULL,
                    tier TEXT NOT NULL,
                    PRIMARY KEY (registry, repository, tag)
                );
                CREATE TABLE manifests (
                    registry TEXT NOT NULL,
                    repository TEXT NOT NULL,
                    digest TEXT NOT NULL,
                    media_type TEXT NOT NULL,
                    fetched_at REAL NOT NULL,
                    tier TEXT NOT NULL,
                    PRIMARY KEY (registry, repository, digest)
                );
                CREATE INDEX blobs_last_access ON blobs(last_access);
                """)
        }
        migrator.registerMigration("v2 provisional blobs") { db in
            // A blob recorded before its files were synced: start-up verifies it again.
            try db.execute(sql: "ALTER TABLE blobs ADD COLUMN provisional INTEGER NOT NULL DEFAULT 0")
        }
        migrator.registerMigration("v3 rows by digest") { db in
            // Removing a blob removes the tags and manifest rows that name it: without these,
            // each removal scans both tables.
            try db.execute(sql: "CREATE INDEX tags_digest ON tags(digest); CREATE INDEX manifests_digest ON manifests(digest)")
        }
        migrator.registerMigration("v4 deleted tags") { db in
            // A tag upstream deleted keeps its last digest here, for an operator to see and restore.
            try db.execute(sql: """
                CREATE TABLE deleted_tags (
                    registry TEXT NOT NULL,
                    repository TEXT NOT NULL,
                    tag TEXT NOT NULL,
                    digest TEXT NOT NULL,
                    media_type TEXT NOT NULL,
                    fetched_at REAL NOT NULL,
                    tier TEXT NOT NULL,
                    deleted_at REAL NOT NULL,
                    PRIMARY KEY (registry, repository, tag)
                );
                CREATE INDEX deleted_tags_digest ON deleted_tags(digest);
                """)
        }
        try migrator.migrate(queue)
    }

    // MARK: Blobs

    /// Records a stored blob; `provisional` when its files are not synced yet (see
    /// ``markDurable(_:)``).
    public func recordBlob(_ blob: StoredBlob, mediaType: String?, at time: Date, provisional: Bool = false) throws {
        try queue.write { db in
            try db.execute(sql: """
                INSERT INTO blobs (digest, size, stored_size, compressed, media_type, created_at, last_access, hits, provisional)
                VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)
                ON CONFLICT(digest) DO UPDATE SET size = excluded.size, stored_size = excluded.stored_size,
                    compressed = excluded.compressed, media_type = COALESCE(excluded.media_type, blobs.media_type),
                    provisional = MIN(blobs.provisional, excluded.provisional)
                """, arguments: [blob.digest.description, blob.size, blob.storedSize, blob.compressed, mediaType,
                                 time.timeIntervalSince1970, time.timeIntervalSince1970, provisional])
        }
    }

    /// The blob's files are synced: it no longer needs verifying at start-up.
    public func markDurable(_ digest: Digest) throws {
        try queue.write { db in
            try db.execute(sql: "UPDATE blobs SET provisional = 0 WHERE digest = ?", arguments: [digest.description])
        }
    }

    /// Blobs recorded before their files were synced.
    public func provisionalBlobs() throws -> [Digest] {
        try queue.read { db in
            try String.fetchAll(db, sql: "SELECT digest FROM blobs WHERE provisional = 1 ORDER BY digest").compactMap { try? Digest(parsing: $0) }
        }
    }

    /// Adds hits and moves last access forward, in one transaction for a batch.
    public func recordAccess(_ accesses: [Digest: (hits: Int, last: Date)]) throws {
        guard !accesses.isEmpty else { return }
        try queue.write { db in
            for (digest, access) in accesses {
                try db.execute(sql: "UPDATE blobs SET hits = hits + ?, last_access = MAX(last_access, ?) WHERE digest = ?",
                               arguments: [access.hits, access.last.timeIntervalSince1970, digest.description])
            }
        }
    }

    public struct BlobRow: Sendable, Hashable {
        public let digest: Digest
        public let size: Int64
        public let storedSize: Int64
        public let compressed: Bool
        public let mediaType: String?
        public let lastAccess: Date
        public let hits: Int

        public init(digest: Digest, size: Int64, storedSize: Int64, compressed: Bool, mediaType: String?, lastAccess: Date, hits: Int) {
            self.digest = digest
            self.size = size
            self.storedSize = storedSize
            self.compressed = compressed
            self.mediaType = mediaType
            self.lastAccess = lastAccess
            self.hits = hits
        }
    }

    public func blob(_ digest: Digest) throws -> BlobRow? {
        try queue.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM blobs WHERE digest = ?", arguments: [digest.description]).flatMap(Self.blobRow)
        }
    }

    /// The blobs whose hex digest starts with `hexPrefix`, from the primary key alone.
    public func blobDigests(algorithm: Digest.Algorithm, hexPrefix: String) throws -> [Digest] {
        let lower = "\(algorithm.rawValue):\(hexPrefix)"
        return try queue.read { db in
            try String.fetchAll(db, sql: "SELECT digest FROM blobs WHERE digest >= ? AND digest < ?", arguments: [lower, lower + "~"])
                .compactMap { try? Digest(parsing: $0) }
        }
    }

    /// Blobs in the order eviction takes them: least recently requested first, then by
    /// digest; one page of `limit` after `after` (the last of the page before).
    public func blobsByLastAccess(after: EvictionCandidate?, limit: Int) throws -> [EvictionCandidate] {
        try queue.read { db in
            let rows: [Row]
            if let after {
                rows = try Row.fetchAll(db, sql: """
                    SELECT digest, stored_size, last_access FROM blobs
                    WHERE last_access > ? OR (last_access = ? AND digest > ?)
                    ORDER BY last_access, digest LIMIT ?
                    """, arguments: [after.lastAccess.timeIntervalSince1970, after.lastAccess.timeIntervalSince1970, after.digest.description, limit])
            } else {
                rows = try Row.fetchAll(db, sql: "SELECT digest, stored_size, last_access FROM blobs ORDER BY last_access, digest LIMIT ?",
                                        arguments: [limit])
            }
            return rows.compactMap { row in
                guard let text: String = row["digest"], let digest = try? Digest(parsing: text) else { return nil }
                return EvictionCandidate(digest: digest, storedSize: row["stored_size"], lastAccess: Date(timeIntervalSince1970: row["last_access"]))
            }
        }
    }

    public func allBlobs() throws -> [BlobRow] {
        try queue.read { db in try Row.fetchAll(db, sql: "SELECT * FROM blobs ORDER BY digest").compactMap(Self.blobRow) }
    }

    /// The number of blobs and their bytes on disk.
    public func storedBytes() throws -> (count: Int, stored: Int64) {
        try queue.read { db in
            let row = try Row.fetchOne(db, sql: "SELECT COUNT(*) AS n, COALESCE(SUM(stored_size), 0) AS s FROM blobs")
            return (row?["n"] ?? 0, row?["s"] ?? 0)
        }
    }

    /// Removes a blob's row, and the tags and manifest rows that name it.
    public func removeBlob(_ digest: Digest) throws {
        try removeBlobs([digest])
    }

    /// Removes blobs' rows, and the tags and manifest rows that name them, in one transaction.
    public func removeBlobs(_ digests: [Digest]) throws {
        try queue.write { db in
            for digest in digests {
                try db.execute(sql: "DELETE FROM blobs WHERE digest = ?", arguments: [digest.description])
                try db.execute(sql: "DELETE FROM tags WHERE digest = ?", arguments: [digest.description])
                try db.execute(sql: "DELETE FROM deleted_tags WHERE digest = ?", arguments: [digest.description])
                try db.execute(sql: "DELETE FROM manifests WHERE digest = ?", arguments: [digest.description])
            }
        }
    }

    private static func blobRow(_ row: Row) -> BlobRow? {
        guard let digest = try? Digest(parsing: row["digest"]) else { return nil }
        return BlobRow(digest: digest, size: row["size"], storedSize: row["stored_size"], compressed: row["compressed"],
                       mediaType: row["media_type"], lastAccess: Date(timeIntervalSince1970: row["last_access"]), hits: row["hits"])
    }

    // MARK: Tags and manifests

    public struct TagRow: Sendable, Hashable {
        public let registry: String
        public let repository: RepositoryName
        public let tag: Tag
        public let digest: Digest
        public let mediaType: String
        public let fetchedAt: Date
        public let tier: String

        public init(registry: String, repository: RepositoryName, tag: Tag, digest: Digest, mediaType: String, fetchedAt: Date, tier: String) {
            self.registry = registry
            self.repository = repository
            self.tag = tag
            self.digest = digest
            self.mediaType = mediaType
            self.fetchedAt = fetchedAt
            self.tier = tier
        }
    }

    /// A tag that upstream deleted: where it pointed, and when it was dropped.
    public struct DeletedTagRow: Sendable, Hashable {
        public let tag: TagRow
        public let deletedAt: Date

        public init(tag: TagRow, deletedAt: Date) {
            self.tag = tag
            self.deletedAt = deletedAt
        }
    }

    /// Points a tag at a digest; a deleted tag of that name is forgotten (it is back).
    public func setTag(_ row: TagRow) throws {
        try queue.write { db in
            try db.execute(sql: "DELETE FROM deleted_tags WHERE registry = ? AND repository = ? AND tag = ?",
                           arguments: [row.registry, row.repository.value, row.tag.value])
            try db.execute(sql: """
                INSERT INTO tags (registry, repository, tag, digest, media_type, fetched_at, tier) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(registry, repository, tag) DO UPDATE SET digest = excluded.digest, media_type = excluded.media_type,
                    fetched_at = excluded.fetched_at, tier = excluded.tier
                """, arguments: [row.registry, row.repository.value, row.tag.value, row.digest.description, row.mediaType,
                                 row.fetchedAt.timeIntervalSince1970, row.tier])
        }
    }

    /// Moves a tag to the deleted tags, in one transaction.
    public func removeTag(registry: String, repository: RepositoryName, tag: Tag, deletedAt: Date) throws {
        try queue.write { db in
            try db.execute(sql: """
                INSERT OR REPLACE INTO deleted_tags (registry, repository, tag, digest, media_type, fetched_at, tier, deleted_at)
                SELECT registry, repository, tag, digest, media_type, fetched_at, tier, ? FROM tags
                WHERE registry = ? AND repository = ? AND tag = ?
                """, arguments: [deletedAt.timeIntervalSince1970, registry, repository.value, tag.value])
            try db.execute(sql: "DELETE FROM tags WHERE registry = ? AND repository = ? AND tag = ?",
                           arguments: [registry, repository.value, tag.value])
        }
    }

    /// Every deleted tag, by registry, repository and tag.
    public func deletedTags() throws -> [DeletedTagRow] {
        try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM deleted_tags ORDER BY registry, repository, tag").compactMap { row in
                Self.tagRow(row).map { DeletedTagRow(tag: $0, deletedAt: Date(timeIntervalSince1970: row["deleted_at"])) }
            }
        }
    }

    /// Moves a deleted tag back, fetched at `time`; nil when no such tag was deleted.
    public func restoreTag(registry: String, repository: RepositoryName, tag: Tag, at time: Date) throws -> TagRow? {
        try queue.write { db in
            guard let deleted = try Row.fetchOne(db, sql: "SELECT * FROM deleted_tags WHERE registry = ? AND repository = ? AND tag = ?",
                                                 arguments: [registry, repository.value, tag.value]).flatMap(Self.tagRow) else { return nil }
            let restored = TagRow(registry: registry, repository: repository, tag: tag, digest: deleted.digest, mediaType: deleted.mediaType,
                                  fetchedAt: time, tier: deleted.tier)
            try db.execute(sql: "DELETE FROM deleted_tags WHERE registry = ? AND repository = ? AND tag = ?",
                           arguments: [registry, repository.value, tag.value])
            try db.execute(sql: """
                INSERT OR REPLACE INTO tags (registry, repository, tag, digest, media_type, fetched_at, tier) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [registry, repository.value, tag.value, restored.digest.description, restored.mediaType,
                                 time.timeIntervalSince1970, restored.tier])
            return restored
        }
    }

    public func tag(registry: String, repository: RepositoryName, tag: Tag) throws -> TagRow? {
        try queue.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM tags WHERE registry = ? AND repository = ? AND tag = ?",
                             arguments: [registry, repository.value, tag.value]).flatMap(Self.tagRow)
        }
    }

    public func tags(registry: String, repository: RepositoryName) throws -> [TagRow] {
        try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM tags WHERE registry = ? AND repository = ? ORDER BY tag",
                             arguments: [registry, repository.value]).compactMap(Self.tagRow)
        }
    }

    public func allTags() throws -> [TagRow] {
        try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM tags ORDER BY registry, repository, tag").compactMap(Self.tagRow)
        }
    }

    private static func tagRow(_ row: Row) -> TagRow? {
        guard let repository = try? RepositoryName(row["repository"]), let tag = try? Tag(row["tag"]),
              let digest = try? Digest(parsing: row["digest"]) else { return nil }
        return TagRow(registry: row["registry"], repository: repository, tag: tag, digest: digest,
                      mediaType: row["media_type"], fetchedAt: Date(timeIntervalSince1970: row["fetched_at"]), tier: row["tier"])
    }

    public struct ManifestRow: Sendable, Hashable {
        public let registry: String
        public let repository: RepositoryName
        public let digest: Digest
        public let mediaType: String
        public let fetchedAt: Date
        public let tier: String

        public init(registry: String, repository: RepositoryName, digest: Digest, mediaType: String, fetchedAt: Date, tier: String) {
            self.registry = registry
            self.repository = repository
            self.digest = digest
            self.mediaType = mediaType
            self.fetchedAt = fetchedAt
            self.tier = tier
        }
    }

    public func addManifest(_ row: ManifestRow) throws {
        try queue.write { db in
            try db.execute(sql: """
                INSERT INTO manifests (registry, repository, digest, media_type, fetched_at, tier) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT(registry, repository, digest) DO NOTHING
                """, arguments: [row.registry, row.repository.value, row.digest.description, row.mediaType,
                                 row.fetchedAt.timeIntervalSince1970, row.tier])
        }
    }

    public func manifest(registry: String, repository: RepositoryName, digest: Digest) throws -> ManifestRow? {
        try queue.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM manifests WHERE registry = ? AND repository = ? AND digest = ?",
                             arguments: [registry, repository.value, digest.description]).flatMap(Self.manifestRow)
        }
    }

    public func allManifests() throws -> [ManifestRow] {
        try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM manifests ORDER BY registry, repository, digest").compactMap(Self.manifestRow)
        }
    }

    private static func manifestRow(_ row: Row) -> ManifestRow? {
        guard let repository = try? RepositoryName(row["repository"]), let digest = try? Digest(parsing: row["digest"]) else { return nil }
        return ManifestRow(registry: row["registry"], repository: repository, digest: digest, mediaType: row["media_type"],
                           fetchedAt: Date(timeIntervalSince1970: row["fetched_at"]), tier: row["tier"])
    }

    /// Repositories of a registry that hold at least one tag or manifest, sorted.
    public func repositories(registry: String) throws -> [RepositoryName] {
        try queue.read { db in
            try String.fetchAll(db, sql: """
                SELECT repository FROM tags WHERE registry = ? UNION SELECT repository FROM manifests WHERE registry = ?
                ORDER BY repository
                """, arguments: [registry, registry]).compactMap { try? RepositoryName($0) }
        }
    }
}
