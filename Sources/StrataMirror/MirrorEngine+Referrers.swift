import Foundation
import StrataCore
import StrataStore
import StrataUpstream

/// A referrers list, as `GET /v2/<name>/referrers/<digest>` answers it (unfiltered).
public struct ReferrersResult: Sendable {
    /// The list as stored and served: a cached list goes out as these bytes, neither
    /// parsed nor encoded again.
    public let encoded: [UInt8]
    /// The list's entries (parsed from ``encoded`` when asked: filtering, a replica).
    public var index: ReferrersIndex { ReferrersIndex(parsing: encoded) ?? ReferrersIndex(manifests: []) }
    public let tier: TierName
    /// Every tier failed: this is the list cached earlier.
    public let stale: Bool
    public let attempts: [TierAttempt]
    public let path: [String]
}

/// The OCI 1.1 referrers API, pulled through: the tiers in order, the answer kept for
/// `cache.referrers_ttl` (referrer lists grow: a signature or SBOM is attached later),
/// the kept list when every tier fails, and a `404` from every tier passed on as it is
/// (a made-up empty list would stop clients from falling back to the tag schema).
///
/// A list is stored as an image index (by its digest) with a tag record pointing at it,
/// under the registry name `<registry>~referrers` and the tag `<algorithm>-<hex>` (the
/// tag schema's name): every content store keeps it, and it never mixes with real tags.
extension MirrorEngine {
    public func referrers(
        registry: String, repository: RepositoryName, subject: Digest, via: String? = nil
    ) async throws(MirrorError) -> ReferrersResult {
        let what = "referrers of \(repository)@\(subject)"
        let kept = await keptReferrers(registry: registry, repository: repository, subject: subject)
        if let kept, configuration.cacheOnly
            || TagFreshness(ttl: configuration.referrersTTL).decide(fetchedAt: kept.fetchedAt, now: now()) == .fresh {
            return ReferrersResult(encoded: kept.encoded, tier: .local, stale: false, attempts: [], path: ["local"])
        }
        if configuration.cacheOnly {
            throw MirrorError.referrersNotSupported.saying("\(what) are not cached, and this mirror is in cache-only mode")
        }
        let negativeKey = "\(registry)/\(repository)@referrers:\(subject)"
        if negative.contains(negativeKey) {
            throw MirrorError.referrersNotSupported.saying("no tier answers the referrers API for \(repository) (remembered for a while)")
        }
        let chain = try chain(for: registry)
        do {
            return try await referrersFlights.run(negativeKey) {
                try await self.fetchReferrers(registry: registry, repository: repository, subject: subject, chain: chain, via: via,
                                              kept: kept?.encoded, negativeKey: negativeKey)
            }
        } catch let error as MirrorError {
            throw error
        } catch {
            throw MirrorError.unavailable.saying("the cache failed to answer (the server log says why)", cause: error)
        }
    }

    private func fetchReferrers(
        registry: String, repository: RepositoryName, subject: Digest, chain: TierChain, via: String?,
        kept: [UInt8]?, negativeKey: String
    ) async throws(MirrorError) -> ReferrersResult {
        let listed: (value: UpstreamReferrers, tierIndex: Int, attempts: [TierAttempt])
        do {
            listed = try await chain.first { tier throws(UpstreamError) in
                try await tier.client.getReferrers(repository, subject, via: via)
            }
        } catch {
            if let kept {
                return ReferrersResult(encoded: kept, tier: .stale, stale: true, attempts: error.attempts, path: ["stale"])
            }
            if error.allNotFound {
                negative.insert(negativeKey)
                throw MirrorError.referrersNotSupported.saying(
                    "no tier answers the referrers API for \(repository)@\(subject) (404 from every tier: use the tag schema)", attempts: error.attempts)
            }
            throw exhausted(error, what: "referrers of \(repository)@\(subject)", unknown: .referrersNotSupported)
        }
        let tier = chain.tiers[listed.tierIndex].name
        let (bounded, cut) = listed.value.index.bounded()
        if cut {
            logger.warning("referrers list cut to what a cache keeps", metadata: [
                "subject": "\(subject)", "listed": "\(listed.value.index.manifests.count)", "kept": "\(bounded.manifests.count)"])
        }
        let encoded = bounded.bytes
        await keep(encoded, registry: registry, repository: repository, subject: subject, tier: tier)
        return ReferrersResult(encoded: encoded, tier: tier, stale: false, attempts: listed.attempts,
                               path: [tier.description] + listed.value.remotePath)
    }

    /// Stores a referrers list for its subject; a store that fails only costs the next request a fetch.
    func keep(_ bytes: [UInt8], registry: String, repository: RepositoryName, subject: Digest, tier: TierName) async {
        let digest = ContentHasher.digest(of: bytes)
        let keptRegistry = ReferrersIndex.registryName(for: registry)
        do {
            let stored = try await local.putManifest(bytes, digest: digest, record: ManifestRecord(
                registry: keptRegistry, repository: repository, digest: digest, mediaType: MediaType.ociIndex.value, fetchedAt: now(),
                tier: tier.description))
            notify(.stored(stored))
            try await local.setTag(TagRecord(registry: keptRegistry, repository: repository, tag: ReferrersIndex.tagName(for: subject), digest: digest,
                                             mediaType: MediaType.ociIndex.value, fetchedAt: now(), tier: tier.description))
        } catch {
            logger.error("cannot keep a referrers list", metadata: ["subject": "\(subject)", "error": "\(error)"])
        }
    }

    /// The referrers list kept for `subject`, with when it was fetched.
    /// Its bytes are what this cache encoded (or imported) and the store verified by
    /// digest: served as they are, not parsed again.
    func keptReferrers(registry: String, repository: RepositoryName, subject: Digest) async -> (encoded: [UInt8], fetchedAt: Date)? {
        guard let record = await local.tag(registry: ReferrersIndex.registryName(for: registry), repository: repository, tag: ReferrersIndex.tagName(for: subject)),
              let stored = await local.manifest(record.digest), stored.mediaType == MediaType.ociIndex.value else { return nil }
        return (stored.bytes, record.fetchedAt)
    }
}
