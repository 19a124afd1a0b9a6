import StrataCore
import StrataStore
import StrataUpstream

/// A manifest ready to serve, with where it came from.
public struct ManifestResult: Sendable {
    public let bytes: [UInt8]
    public let mediaType: String
    public let digest: Digest
    public let tier: TierName
    /// Served from the cache after every tier failed.
    public let stale: Bool
    public let attempts: [TierAttempt]
    /// The tiers that served it, end to end: this node's tier first, then what a Strata
    /// upstream reported (`mirror/central`, `canonical`).
    public let path: [String]
}

/// A blob ready to serve.
public enum BlobResult: Sendable {
    /// In the store.
    case stored(CachedBlob)
    /// Being filled; the response streams as the fill goes.
    case filling(BlobFill, size: Int64?, lease: BlobFill.Lease)
    /// A `HEAD` on a blob that is not cached, answered from a tier without filling.
    case upstreamHead(size: Int64?, tier: TierName, path: [String], attempts: [TierAttempt])
}
