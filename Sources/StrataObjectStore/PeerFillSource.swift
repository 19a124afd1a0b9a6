import AsyncHTTPClient
import Foundation
import Logging
import NIOConcurrencyHelpers
import StrataCore
import StrataUpstream

/// The tier after the shared store in each replica's chain: makes one fill per blob
/// across all the replicas. A replica about to fill a blob from upstream first creates
/// the blob's lease object in the bucket; if another replica holds it, the blob is
/// fetched from that replica, which streams it from its own fill as the bytes arrive.
///
/// - This replica got the lease (or holds it already): "not found", and the walk goes on
///   to the upstream tiers; the lease goes when the blob is written back to the bucket
///   (or expires).
/// - Another replica holds it: a `GET` of the blob from that replica's registry port.
/// - That replica does not answer, or its lease expired: the lease is taken over with
///   `If-Match` on its ETag, and this replica fills.
///
/// A replica whose registry port requires a login (`auth.htpasswd`) lets the others read
/// blobs with a ``PeerToken`` keyed from the store's secret key.
///
/// Manifests are small and not leased: this source does not have them.
public final class PeerFillSource: ContentSource {
    let store: S3ContentStore
    let http: HTTPClient
    let logger: Logger
    let now: @Sendable () -> Date
    /// How long a lease lives without its blob being stored.
    public let leaseSeconds: Double
    let instanceID: String
    /// This replica's registry URL, once it listens (nil: it takes no leases).
    private let advertised = NIOLockedValueBox<String?>(nil)
    /// Blob bodies from a lease holder slower than this are abandoned, as from any tier.
    let minimumRate: StreamedReply.MinimumRate?

    /// Which holder each blob was last fetched from, and the holders whose bytes of a
    /// blob failed verification: passed over for that blob like a holder that is down.
    private struct Holders {
        var servedBy: [Digest: String] = [:]
        var distrusted: [Digest: String] = [:]
    }
    private let holders = NIOLockedValueBox(Holders())
    /// Most blobs remembered in each of those maps.
    static let remembered = 1024

    public init(store: S3ContentStore, http: HTTPClient, instanceID: String, leaseSeconds: Double = 600, logger: Logger,
                minimumRate: StreamedReply.MinimumRate? = nil, now: @escaping @Sendable () -> Date = Date.init) {
        self.store = store
        self.http = http
        self.instanceID = instanceID
        self.leaseSeconds = leaseSeconds
        self.logger = logger
        self.minimumRate = minimumRate
        self.now = now
    }

    /// The bytes a holder sent for `digest` failed verification: the next fill passes it over.
    public func deliveredBadBytes(_ digest: Digest) async {
        holders.withLockedValue { h in
            guard let owner = h.servedBy.removeValue(forKey: digest) else { return }
            if h.distrusted.count >= Self.remembered { h.distrusted.removeAll(keepingCapacity: true) }
            h.distrusted[digest] = owner
            logger.warning("a replica sent a blob that failed verification; its lease will be taken over",
                           metadata: ["digest": "\(digest)", "owner": "\(owner)"])
        }
    }

    /// Sets the URL other replicas reach this one at.
    public func advertise(_ url: String) {
        advertised.withLockedValue { $0 = url }
    }

    public var location: String { "leases in \(store.client.configuration.bucket)" }

    public func headManifest(_ repository: RepositoryName, _ reference: Reference, accept: [String], via: String?) async throws(UpstreamError) -> UpstreamManifestHead {
        throw UpstreamError(.notFound, "manifests are not leased")
    }

    public func getManifest(_ repository: RepositoryName, _ reference: Reference, accept: [String], via: String?) async throws(UpstreamError) -> UpstreamManifest {
        throw UpstreamError(.notFound, "manifests are not leased")
    }

    public func getReferrers(_ repository: RepositoryName, _ subject: Digest, via: String?) async throws(UpstreamError) -> UpstreamReferrers {
        throw UpstreamError(.notFound, "referrers are not leased")
    }

    public func listTags(_ repository: RepositoryName, via: String?) async throws(UpstreamError) -> UpstreamTagList {
        throw UpstreamError(.notFound, "tags are not leased")
    }

    public func headBlob(_ repository: RepositoryName, _ digest: Digest, via: String?) async throws(UpstreamError) -> Int64? {
        throw UpstreamError(.notFound, "a HEAD is answered by the upstream tiers")
    }

    public func getBlob(_ repository: RepositoryName, _ digest: Digest, from offset: Int64, via: String?) async throws(UpstreamError) -> UpstreamBlob {
        guard let me = advertised.withLockedValue({ $0 }) else { throw UpstreamError(.notFound, "this replica takes no fill leases") }
        for _ in 0..<3 {
            let held: S3ContentStore.Lease?
            do {
                held = try await store.acquireLease(digest, owner: me, seconds: leaseSeconds, now: now())
            } catch {
                // The store is failing: fill here, without a lease.
                throw UpstreamError(.notFound, "no lease (the shared store failed: \(error)); filling here")
            }
            guard let held, held.owner != me else { return try await fillHere(digest, from: offset, "this replica fills \(digest)") }
            var why = "its lease expired"
            let time = now().timeIntervalSince1970
            if held.expires > time + leaseSeconds {
                // No replica writes a lease that long: one written by hand, to block the blob.
                why = "its lease claims to last past the lifetime a replica gives it"
            } else if held.expires > time {
                if let refusal = await refusal(of: held.owner) {
                    why = "a lease naming a replica not to fetch from (\(refusal))"
                } else if holders.withLockedValue({ $0.distrusted[digest] == held.owner }) {
                    why = "its bytes of this blob failed verification"
                } else {
                    do {
                        let blob = try await peer(held.owner, path: "/v2/\(repository.value)/blobs/\(digest)").getBlob(repository, digest, from: offset, via: via)
                        holders.withLockedValue { h in
                            if h.servedBy.count >= Self.remembered { h.servedBy.removeAll(keepingCapacity: true) }
                            h.servedBy[digest] = held.owner
                        }
                        return blob
                    } catch where error.kind == .notFound || error.kind == .loop {
                        throw error
                    } catch {
                        why = "it does not answer"
                        logger.warning("the replica filling a blob does not answer; taking its lease over",
                                       metadata: ["digest": "\(digest)", "owner": "\(held.owner)", "error": "\(error)"])
                    }
                }
            }
            if (try? await store.takeOverLease(digest, from: held, owner: me, seconds: leaseSeconds, now: now())) == true {
                return try await fillHere(digest, from: offset, "took over the lease of \(digest) from \(held.owner): \(why)")
            }
        }
        throw UpstreamError(.notFound, "the lease of \(digest) kept changing hands; filling here")
    }

    /// This replica holds the lease: it fills ("not found" here, so the walk goes on to the
    /// upstream tiers), unless the blob reached the bucket since the shared tier looked. A
    /// holder writes the blob back before it releases the lease, so a lease found free may
    /// mean the blob just arrived: then it comes from the bucket, and the lease goes again.
    private func fillHere(_ digest: Digest, from offset: Int64, _ why: String) async throws(UpstreamError) -> UpstreamBlob {
        guard let stored = await store.blob(digest), offset < stored.blob.size else { throw UpstreamError(.notFound, why) }
        await store.releaseLease(digest)
        let size = stored.blob.size
        let body: any BlobStream
        if let source = stored as? any BlobStreamSource {
            do {
                body = try await source.stream(from: offset, to: size)
            } catch {
                throw UpstreamError(.transport, "the bucket's copy of \(digest): \(error)")
            }
        } else {
            body = PushedBlobStream { emit in try await stored.read(offset, size) { try await emit($0) } }
        }
        return UpstreamBlob(totalSize: size, offset: offset, body: body, remotePath: ["shared"])
    }

    /// A lease's owner is read from the bucket, which anyone holding its keys can write:
    /// followed only to an http or https URL that is not link-local (cloud metadata) nor
    /// otherwise unusable. Replicas normally sit on private addresses, so those are fine
    /// whatever the store's own address. A lease pointing elsewhere is treated as dead.
    private func refusal(of owner: String) async -> String? {
        guard let target = URL(string: owner) else { return "not a URL" }
        // A replica writes its owner as scheme, host and port: a path or a query would turn
        // the blob's path into something else (another port's /metrics as blob bytes).
        guard target.user == nil, target.password == nil, target.query == nil, target.fragment == nil,
              target.path.isEmpty || target.path == "/", !owner.contains("?"), !owner.contains("#") else {
            logger.warning("a fill lease names an owner with a path or query; taking it over", metadata: ["owner": "\(owner)"])
            return "an owner is scheme, host and port only"
        }
        let verdict: RedirectPolicy.Verdict = await RedirectPolicy.check(origin: [], to: target)
        switch verdict {
        case .allow:
            return nil
        case .refuse(let why):
            logger.warning("a fill lease names a replica that may not be fetched from; taking it over",
                           metadata: ["owner": "\(owner)", "reason": "\(why)"])
            return why
        }
    }

    /// The replica at `url`, asked with a token for `path` (its registry port may
    /// require a login; the token proves this replica shares the store).
    private func peer(_ url: String, path: String) -> RegistryClient {
        let token = PeerToken(secret: store.client.configuration.secretKey).make(path: path, now: now())
        return RegistryClient(baseURL: url, http: http, instanceID: instanceID, extraHeaders: [(PeerToken.header, token)],
                              logger: logger, now: now, minimumRate: minimumRate)
    }
}
