import NIOCore
import StrataCore
import StrataUpstream

/// A pull-through engine seen as a ``ContentSource``: what it answers comes from its
/// own store or, on a miss, from its tiers (filling its store on the way).
///
/// That makes tiers of storage a composition: an engine over the local disk whose tier
/// is an engine over a shared store, whose tiers are the registries. Each engine keeps
/// its own single-flight, so concurrent misses make one request per level.
public struct MirrorSource: ContentSource {
    let engine: MirrorEngine
    /// The registry this source answers for (each engine serves several).
    let registry: String
    /// What the admin server shows as this tier's address.
    public let location: String
    /// Whether the engine's store can be used now; when not, this source fails at once
    /// (a shared store that is down is passed over, not waited for).
    let isAvailable: @Sendable () -> Bool

    public init(engine: MirrorEngine, registry: String, location: String? = nil, isAvailable: @escaping @Sendable () -> Bool = { true }) {
        self.engine = engine
        self.registry = registry
        self.location = location ?? "engine:\(registry)"
        self.isAvailable = isAvailable
    }

    private func checkAvailable() throws(UpstreamError) {
        guard isAvailable() else { throw UpstreamError(.transport, "\(location) is unavailable") }
    }

    /// A mirror error in the terms a tier walk uses: "not found", or a failure.
    static func upstreamError(_ error: MirrorError) -> UpstreamError {
        if error == .manifestNotFound || error == .blobNotFound || error == .repositoryNotFound || error == .referrersNotSupported { return UpstreamError(.notFound, status: 404, error.message) }
        if error == .refused { return UpstreamError(.unauthorized, status: 403, error.message) }
        // The engine's store works; the tiers behind it failed: not this source's failure.
        if error == .tiersFailed { return UpstreamError(.upstreamFailed, status: 503, error.attemptsSummary) }
        return UpstreamError(.transport, error.message)
    }

    public func headManifest(_ repository: RepositoryName, _ reference: Reference, accept: [String], via: String?) async throws(UpstreamError) -> UpstreamManifestHead {
        let manifest = try await getManifest(repository, reference, accept: accept, via: via)
        return UpstreamManifestHead(digest: ContentHasher.digest(of: manifest.bytes), mediaType: manifest.mediaType,
                                    size: Int64(manifest.bytes.count), remotePath: manifest.remotePath)
    }

    public func getManifest(_ repository: RepositoryName, _ reference: Reference, accept: [String], via: String?) async throws(UpstreamError) -> UpstreamManifest {
        try checkAvailable()
        do {
            let result = try await engine.manifest(registry: registry, repository: repository, reference: reference,
                                                   accept: ManifestAccept(headers: accept), via: via)
            return UpstreamManifest(bytes: result.bytes, mediaType: result.mediaType, digestHeader: result.digest, remotePath: result.path)
        } catch {
            throw Self.upstreamError(error)
        }
    }

    public func getReferrers(_ repository: RepositoryName, _ subject: Digest, via: String?) async throws(UpstreamError) -> UpstreamReferrers {
        try checkAvailable()
        do {
            let result = try await engine.referrers(registry: registry, repository: repository, subject: subject, via: via)
            return UpstreamReferrers(index: result.index, remotePath: result.path)
        } catch {
            throw Self.upstreamError(error)
        }
    }

    public func listTags(_ repository: RepositoryName, via: String?) async throws(UpstreamError) -> UpstreamTagList {
        try checkAvailable()
        do {
            let result = try await engine.tagList(registry: registry, repository: repository, via: via)
            return UpstreamTagList(tags: result.tags, remotePath: result.path)
        } catch {
            throw Self.upstreamError(error)
        }
    }

    /// Bytes of `digest` this engine's store handed out failed verification downstream
    /// (an object in a bucket that anyone with its keys can write): removed from the
    /// store, so the next fill goes past it to the next tier.
    public func deliveredBadBytes(_ digest: Digest) async {
        await engine.quarantine(digest)
    }

    public func headBlob(_ repository: RepositoryName, _ digest: Digest, via: String?) async throws(UpstreamError) -> Int64? {
        try checkAvailable()
        do {
            switch try await engine.blob(registry: registry, repository: repository, digest: digest, headOnly: true, via: via) {
            case .stored(let blob): return blob.size
            case .filling(_, let size, _): return size
            case .upstreamHead(let size, _, _, _): return size
            }
        } catch {
            throw Self.upstreamError(error)
        }
    }

    public func getBlob(_ repository: RepositoryName, _ digest: Digest, from offset: Int64, via: String?) async throws(UpstreamError) -> UpstreamBlob {
        try checkAvailable()
        let result: BlobResult
        do {
            result = try await engine.blob(registry: registry, repository: repository, digest: digest, headOnly: false, via: via)
        } catch {
            throw Self.upstreamError(error)
        }
        switch result {
        case .stored(let blob):
            guard offset <= blob.size else { throw UpstreamError(.invalidResponse, "range starts past the blob's end") }
            let body: any BlobStream
            if let source = blob.content as? any BlobStreamSource, offset < blob.size {
                do {
                    body = try await source.stream(from: offset, to: blob.size)
                } catch {
                    throw UpstreamError(.transport, "\(location): \(error)")
                }
            } else {
                body = PushedBlobStream { emit in try await blob.read(offset, blob.size) { try await emit($0) } }
            }
            return UpstreamBlob(totalSize: blob.size, offset: offset, body: body, remotePath: ["local"])
        case .filling(let fill, let size, let lease):
            let body = PushedBlobStream { emit in
                try await fill.read(from: offset, to: size, lease: lease) { try await emit($0) }
            }
            return UpstreamBlob(totalSize: size, offset: offset, body: body, remotePath: fill.path)
        case .upstreamHead:
            throw UpstreamError(.invalidResponse, "a HEAD answer to a GET")
        }
    }
}
