import StrataCore

/// A verified blob in the store.
public struct StoredBlob: Sendable, Hashable {
    public let digest: Digest
    /// Size of the content as clients see it.
    public let size: Int64
    /// Bytes it takes on disk (the frames when compressed).
    public let storedSize: Int64
    public let compressed: Bool

    public init(digest: Digest, size: Int64, storedSize: Int64, compressed: Bool) {
        self.digest = digest
        self.size = size
        self.storedSize = storedSize
        self.compressed = compressed
    }
}
