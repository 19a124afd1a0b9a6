import NIOCore
import StrataCore

/// One place content can be asked for, upstream of this cache: "give me this manifest
/// or blob, or say you don't have it", in the terms of the pull API.
///
/// ``RegistryClient`` is the implementation that speaks HTTP to a registry or another
/// mirror; tests use an in-memory one. A ``TierChain`` walks an ordered list of them.
/// "Not found" is ``UpstreamError`` of kind `notFound`; anything else that fails is a
/// failure of this source, which the chain records and passes over.
public protocol ContentSource: Sendable {
    /// Where this source is, for the admin server (a base URL, or a test's name).
    var location: String { get }

    /// The digest, media type and size of a manifest, without its bytes.
    func headManifest(_ repository: RepositoryName, _ reference: Reference, accept: [String], via: String?) async throws(UpstreamError) -> UpstreamManifestHead

    /// A manifest's bytes. The caller verifies them against the digest it asked for.
    func getManifest(_ repository: RepositoryName, _ reference: Reference, accept: [String], via: String?) async throws(UpstreamError) -> UpstreamManifest

    /// A blob's size, if this source has it.
    func headBlob(_ repository: RepositoryName, _ digest: Digest, via: String?) async throws(UpstreamError) -> Int64?

    /// A blob from `offset` on; its body is the caller's to stream.
    func getBlob(_ repository: RepositoryName, _ digest: Digest, from offset: Int64, via: String?) async throws(UpstreamError) -> UpstreamBlob

    /// Exactly the bytes `range` of a blob (one part of a parallel fill); a source that
    /// cannot answer ranges throws. Its body is the caller's to stream.
    func getBlob(_ repository: RepositoryName, _ digest: Digest, range: Range<Int64>, via: String?) async throws(UpstreamError) -> UpstreamBlob

    /// Every tag of a repository (all pages); `notFound` when the source lacks the repository.
    func listTags(_ repository: RepositoryName, via: String?) async throws(UpstreamError) -> UpstreamTagList

    /// The manifests that name `subject` (the OCI 1.1 referrers API), unfiltered;
    /// `notFound` when the source does not support the API.
    func getReferrers(_ repository: RepositoryName, _ subject: Digest, via: String?) async throws(UpstreamError) -> UpstreamReferrers

    /// The bytes this source delivered for `digest` failed verification. A source that
    /// knows where they came from stops taking them from there: the shared store
    /// quarantines its object, the fill leases pass over the replica that sent them.
    func deliveredBadBytes(_ digest: Digest) async
}

/// A referrers list as a source answered it.
public struct UpstreamReferrers: Sendable, Equatable {
    public let index: ReferrersIndex
    public let remotePath: [String]

    public init(index: ReferrersIndex, remotePath: [String] = []) {
        self.index = index
        self.remotePath = remotePath
    }
}

extension ContentSource {
    /// A registry: the tier's breaker counts the failure (``UpstreamTier/deliveredBadBytes(_:_:)``), nothing more.
    public func deliveredBadBytes(_ digest: Digest) async {}

    public func getBlob(_ repository: RepositoryName, _ digest: Digest, range: Range<Int64>, via: String?) async throws(UpstreamError) -> UpstreamBlob {
        throw UpstreamError(.invalidResponse, "\(location) does not serve byte ranges")
    }
}

/// A repository's tags as a source listed them.
public struct UpstreamTagList: Sendable, Equatable {
    public let tags: [Tag]
    /// The tiers a Strata upstream reported for its answer.
    public let remotePath: [String]

    public init(tags: [Tag], remotePath: [String] = []) {
        self.tags = tags
        self.remotePath = remotePath
    }
}

/// A blob body still to be read, pushed part by part into a sink.
public protocol BlobStream: Sendable {
    /// The event loop the sink is called on; the sink's futures complete on it.
    var eventLoop: any EventLoop { get }
    /// Hands each body part to `sink`, waiting on the future it returns (backpressure);
    /// returns when the body ended, throws when it broke or the sink threw.
    func stream(into sink: @escaping @Sendable (ByteBuffer) throws -> EventLoopFuture<Void>?) async throws
    /// Stops the body: the sink is not called again.
    func cancel()
}

extension StreamedReply: BlobStream {}

/// Stored content that can hand its bytes over as a ``BlobStream`` itself (an object in a
/// bucket, streamed as it arrives), rather than through a task that reads and pushes.
public protocol BlobStreamSource: Sendable {
    /// Bytes `lower..<upper`.
    func stream(from lower: Int64, to upper: Int64) async throws -> any BlobStream
}

extension RegistryClient: ContentSource {
    public var location: String { baseURL }
}
