import StrataStore

/// What the admin server asks of the cache it reports on, whatever the store.
public protocol CacheInventory: Sendable {
    /// Repositories, tags, sizes and platforms, filtered by registry and repository.
    func cacheListing(registry: String?, repository: String?) async throws -> CacheSummary
    /// Whether the store can be written and read: the readiness check.
    func isReady() -> Bool
    /// How many blobs are stored, and their bytes on the medium.
    func storedBytes() throws -> (count: Int, stored: Int64)
}

extension DiskContentStore: CacheInventory {
    public func storedBytes() throws -> (count: Int, stored: Int64) {
        try index.storedBytes()
    }
}
