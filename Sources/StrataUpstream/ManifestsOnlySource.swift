import StrataCore

/// A source's manifests without its blobs: how the shared store's engine sees the
/// upstream tiers. Manifests and tags are fetched into the bucket there (so a tag
/// revalidated by one replica is fresh for all); a blob that is in no bucket is
/// fetched by the replica's own engine, once, and written back to the bucket.
public struct ManifestsOnlySource: ContentSource {
    public let source: any ContentSource

    public init(_ source: any ContentSource) {
        self.source = source
    }

    public var location: String { source.location }

    public func headManifest(_ repository: RepositoryName, _ reference: Reference, accept: [String], via: String?) async throws(UpstreamError) -> UpstreamManifestHead {
        try await source.headManifest(repository, reference, accept: accept, via: via)
    }

    public func getManifest(_ repository: RepositoryName, _ reference: Reference, accept: [String], via: String?) async throws(UpstreamError) -> UpstreamManifest {
        try await source.getManifest(repository, reference, accept: accept, via: via)
    }

    public func listTags(_ repository: RepositoryName, via: String?) async throws(UpstreamError) -> UpstreamTagList {
        try await source.listTags(repository, via: via)
    }

    public func getReferrers(_ repository: RepositoryName, _ subject: Digest, via: String?) async throws(UpstreamError) -> UpstreamReferrers {
        try await source.getReferrers(repository, subject, via: via)
    }

    public func headBlob(_ repository: RepositoryName, _ digest: Digest, via: String?) async throws(UpstreamError) -> Int64? {
        throw UpstreamError(.notFound, "blobs are fetched by the replica, not through the shared store")
    }

    public func getBlob(_ repository: RepositoryName, _ digest: Digest, from offset: Int64, via: String?) async throws(UpstreamError) -> UpstreamBlob {
        throw UpstreamError(.notFound, "blobs are fetched by the replica, not through the shared store")
    }
}
