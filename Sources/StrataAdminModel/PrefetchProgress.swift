/// One step of a prefetch, for progress reports (`POST /api/prefetch` answers these as
/// JSON lines).
public struct PrefetchEvent: Sendable, Codable, Equatable {
    /// `config` and `blob` (a layer) when one is cached; `progress` while a large blob
    /// is fetched (`bytes` of `total` so far).
    /// `evicted`: the cache bound (`cache.max_size`) removed `bytes` of this image's
    /// content (`digest` the first of them) right after it was fetched.
    public enum Kind: String, Sendable, Codable { case manifest, config, blob, progress, done, failed, evicted }
    public let image: String
    public let kind: Kind
    public var digest: String?
    public var bytes: Int64?
    /// True when the content was already cached.
    public var cached: Bool?
    public var message: String?
    /// The blob's size, for `progress`.
    public var total: Int64?
    /// Which layer of its manifest a blob is (1 for the first), for `blob` and `progress`.
    public var layer: Int?

    public init(image: String, kind: Kind, digest: String? = nil, bytes: Int64? = nil, cached: Bool? = nil, message: String? = nil,
                total: Int64? = nil, layer: Int? = nil) {
        self.total = total
        self.layer = layer
        self.image = image
        self.kind = kind
        self.digest = digest
        self.bytes = bytes
        self.cached = cached
        self.message = message
    }
}

/// What a prefetch did, in all.
public struct PrefetchSummary: Sendable, Codable, Equatable {
    public var images = 0
    public var failed = 0
    public var manifests = 0
    public var blobs = 0
    public var cachedBlobs = 0
    public var fetchedBytes: Int64 = 0
    /// Manifests and blobs the cache bound evicted again before the prefetch ended.
    public var evicted = 0

    public init() {}

    // Written by older servers without `evicted`.
    enum CodingKeys: String, CodingKey { case images, failed, manifests, blobs, cachedBlobs, fetchedBytes, evicted }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        images = try c.decode(Int.self, forKey: .images)
        failed = try c.decode(Int.self, forKey: .failed)
        manifests = try c.decode(Int.self, forKey: .manifests)
        blobs = try c.decode(Int.self, forKey: .blobs)
        cachedBlobs = try c.decode(Int.self, forKey: .cachedBlobs)
        fetchedBytes = try c.decode(Int64.self, forKey: .fetchedBytes)
        evicted = try c.decodeIfPresent(Int.self, forKey: .evicted) ?? 0
    }
}
