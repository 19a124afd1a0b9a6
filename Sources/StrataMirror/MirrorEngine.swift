import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import StrataCore
import StrataStore
import StrataUpstream

/// The pull-through engine: answers manifest and blob requests from the cache, and
/// fills the cache from the tiers on a miss.
///
/// Registry routes talk only to this type; they never see the store or the upstream
/// clients. Every answer says which tier served it.
public final class MirrorEngine: Sendable {
    /// Where verified content is kept: the local disk, or memory in tests.
    public let local: any ContentStore
    public let configuration: MirrorConfiguration
    let logger: Logger
    let now: @Sendable () -> Date
    private let threadPool: NIOThreadPool
    let freshness: TagFreshness
    let negative: NegativeCache
    /// Tag lists the tiers answered, by repository.
    let tagLists = TagListMemo()
    let tagListFlights = SingleFlight<String, TagListResult>()
    let referrersFlights = SingleFlight<String, ReferrersResult>()

    let fills = FillTable()
    /// Where fills run: the server's service group waits for them at shutdown.
    public let background = BackgroundWork()
    /// Stored blobs being streamed to clients, which eviction must leave alone.
    public let inUse = InUseTracker()

    /// What the engine tells the cache bound: a fill of this many bytes starts, or a blob was stored.
    public enum StorageEvent: Sendable {
        case fillStarting(bytes: Int64)
        case stored(StoredBlob)
    }
    private let storageObserver = NIOLockedValueBox<(@Sendable (StorageEvent) -> Void)?>(nil)

    /// Sets who hears about fills and commits (the eviction service).
    public func observeStorage(_ observer: @escaping @Sendable (StorageEvent) -> Void) {
        storageObserver.withLockedValue { $0 = observer }
    }

    func notify(_ event: StorageEvent) {
        storageObserver.withLockedValue { $0 }?(event)
    }
    private let manifestFlights = SingleFlight<String, ManifestResult>()

    public init(
        local: any ContentStore, configuration: MirrorConfiguration, logger: Logger,
        threadPool: NIOThreadPool = .singleton, now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.local = local
        self.configuration = configuration
        self.logger = logger
        self.threadPool = threadPool
        self.now = now
        self.freshness = TagFreshness(ttl: configuration.tagTTL)
        self.negative = NegativeCache(ttl: configuration.negativeTTL, now: now)
    }

    /// The number of blob fills running now.
    public var fillsInFlight: Int { fills.count }

    /// Whether a fill of `digest` runs now (until its blob is durable in the store).
    public func isFilling(_ digest: Digest) -> Bool { fills.contains(digest) }

    func chain(for registry: String) throws(MirrorError) -> TierChain {
        if configuration.cacheOnly { return TierChain([]) }
        guard let chain = configuration.chains[registry] else {
            throw MirrorError.registryNotConfigured.saying("no upstream is configured for registry \(registry)")
        }
        return chain
    }

    /// The error for content no tier delivered, from how the walk went.
    func exhausted(_ error: TierChain.Exhausted, what: String, unknown: MirrorError) -> MirrorError {
        if configuration.cacheOnly {
            return unknown.saying("\(what) is not cached, and this mirror is in cache-only mode")
        }
        if error.allNotFound { return unknown.saying("\(what) not found in any tier", attempts: error.attempts) }
        if error.refused {
            return MirrorError.refused.saying("\(what): upstream refused access (check the credentials for: \(error.attempts.filter { $0.outcome == .failed(.unauthorized) }.map(\.tier.description).joined(separator: ", ")))",
                               attempts: error.attempts)
        }
        return MirrorError.tiersFailed.saying("\(what): no tier could answer (\(error))", attempts: error.attempts)
    }

    // MARK: Manifests

    public func manifest(
        registry: String, repository: RepositoryName, reference: Reference, accept: ManifestAccept, via: String? = nil
    ) async throws(MirrorError) -> ManifestResult {
        if let hit = manifestInMemory(registry: registry, repository: repository, reference: reference, accept: accept) {
            return hit
        }
        switch reference {
        case .digest(let digest):
            if let cached = await local.manifest(digest) {
                local.recordAccess(digest, at: now())
                return ManifestResult(bytes: cached.bytes, mediaType: cached.mediaType, digest: digest, tier: .local, stale: false, attempts: [], path: ["local"])
            }
            let key = "\(registry)/\(repository)@\(digest)"
            if negative.contains(key) {
                throw MirrorError.manifestNotFound.saying("manifest \(repository)@\(digest) not found in any tier (remembered for \(Int(negative.ttl))s)")
            }
            let chain = try chain(for: registry)
            return try await flight(key) {
                do {
                    return try await self.fetchManifest(registry: registry, repository: repository, digest: digest,
                                                        chain: chain, startingAt: 0, priorAttempts: [], via: via)
                } catch let error as TierChain.Exhausted {
                    if error.allNotFound { self.negative.insert(key) }
                    throw self.exhausted(error, what: "manifest \(repository)@\(digest)", unknown: .manifestNotFound)
                }
            }
        case .tag(let tag):
            // The tag's own view first, whatever this client accepts; then this client's answer from it.
            let view = try await tagView(TagKey(registry: registry, repository: repository, tag: tag), via: via)
            return try await answer(view, accepting: accept, registry: registry, repository: repository, tag: tag, via: via)
        }
    }

    /// What a tag points at, as Strata itself sees it: the cached entry while fresh (or
    /// in cache-only mode), else revalidated with Strata's own `Accept`
    /// (``upstreamAccept``), never a client's: one client's `Accept` shapes its answer,
    /// not the cache.
    private func tagView(_ key: TagKey, via: String?) async throws(MirrorError) -> ManifestResult {
        let entry = await local.tag(registry: key.registry, repository: key.repository, tag: key.tag)
        // In cache-only mode there is no one to revalidate with: a cached tag is simply cached.
        if let entry, configuration.cacheOnly || freshness.decide(fetchedAt: entry.fetchedAt, now: now()) == .fresh,
           let cached = await local.manifest(entry.digest) {
            local.recordAccess(entry.digest, at: now())
            return ManifestResult(bytes: cached.bytes, mediaType: cached.mediaType, digest: entry.digest, tier: .local, stale: false, attempts: [], path: ["local"])
        }
        let flightKey = "\(key.registry)/\(key.repository):\(key.tag)"
        if entry == nil && negative.contains(flightKey) {
            throw MirrorError.manifestNotFound.saying("manifest \(key.repository):\(key.tag) not found in any tier (remembered for a while)")
        }
        // Deleted upstream, and this mirror keeps serving such tags: no upstream request until tag_ttl passed.
        if let entry, negative.contains(Self.deletedKey(flightKey)), let cached = await local.manifest(entry.digest) {
            local.recordAccess(entry.digest, at: now())
            return ManifestResult(bytes: cached.bytes, mediaType: cached.mediaType, digest: entry.digest, tier: .stale, stale: true,
                                  attempts: [], path: ["stale"])
        }
        let chain = try chain(for: key.registry)
        return try await flight(flightKey) {
            try await self.revalidateTag(key, entry: entry, chain: chain, negativeKey: flightKey, via: via)
        }
    }

    /// A tag's manifest as one client may have it, by the registry's rules for `Accept`:
    /// the manifest when the client takes its type; for an index (a Docker manifest list
    /// or an OCI index) it does not take, the linux/amd64 manifest when it takes that
    /// one's type (as distribution answers old clients); otherwise `MANIFEST_UNKNOWN`.
    /// Nothing here changes the cache.
    private func answer(
        _ view: ManifestResult, accepting accept: ManifestAccept, registry: String, repository: RepositoryName, tag: Tag, via: String?
    ) async throws(MirrorError) -> ManifestResult {
        if accept.accepts(view.mediaType) { return view }
        if MediaType.isIndex(view.mediaType),
           let entry = (try? ManifestReferences(parsing: view.bytes))?.manifests.first(where: { $0.platform == Self.defaultPlatform }) {
            let platform = try await manifest(registry: registry, repository: repository, reference: .digest(entry.digest), accept: accept, via: via)
            if accept.accepts(platform.mediaType) {
                return ManifestResult(bytes: platform.bytes, mediaType: platform.mediaType, digest: platform.digest, tier: view.tier,
                                      stale: view.stale, attempts: view.attempts + platform.attempts, path: view.path)
            }
        }
        throw MirrorError.manifestNotFound.saying(
            "manifest \(repository):\(tag) is \(view.mediaType), which the request's Accept (\(accept.types.joined(separator: ", "))) does not include")
    }

    /// The platform an index answers for a client that cannot take an index.
    static let defaultPlatform = "linux/amd64"

    /// What Strata sends upstream for a tag or a manifest it fetches for itself: every
    /// manifest type, so an answer (or a 404) is about the tag, not about one client.
    static let upstreamAccept = MediaType.allManifestTypes.map(\.value)

    /// A manifest hit the store holds in memory, answered without waiting: by digest, or
    /// by a tag that is fresh (or any cached tag in cache-only mode) whose media type the
    /// client accepts. nil sends the request the whole way (``manifest(registry:repository:reference:accept:via:)``),
    /// which answers the same hit the same way. The registry port calls it on the event loop.
    public func manifestInMemory(registry: String, repository: RepositoryName, reference: Reference, accept: ManifestAccept) -> ManifestResult? {
        let digest: Digest
        switch reference {
        case .digest(let wanted):
            digest = wanted
        case .tag(let tag):
            guard let entry = local.tagInMemory(registry: registry, repository: repository, tag: tag), accept.accepts(entry.mediaType),
                  configuration.cacheOnly || freshness.decide(fetchedAt: entry.fetchedAt, now: now()) == .fresh else { return nil }
            digest = entry.digest
        }
        guard let cached = local.manifestInMemory(digest) else { return nil }
        local.recordAccess(digest, at: now())
        return ManifestResult(bytes: cached.bytes, mediaType: cached.mediaType, digest: digest, tier: .local, stale: false, attempts: [], path: ["local"])
    }

    /// A stored blob's raw file, opened for sendfile, when the store knows the blob in
    /// memory and it needs no check on read: the event loop's blob hit. The caller owns
    /// the descriptor. nil sends the request the whole way (``blob(registry:repository:digest:headOnly:via:)``),
    /// which also finds a blob removed underneath.
    public func openStoredBlobInMemory(_ digest: Digest) -> (blob: StoredBlob, descriptor: Int32)? {
        guard let (blob, path) = local.rawFileInMemory(digest) else { return nil }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        local.recordAccess(digest, at: now())
        return (blob, descriptor)
    }

    private func flight(_ key: String, _ work: @escaping @Sendable () async throws -> ManifestResult) async throws(MirrorError) -> ManifestResult {
        do {
            return try await manifestFlights.run(key, work)
        } catch let error as MirrorError {
            throw error
        } catch {
            // A local failure (the store, the index): its text names files, so it travels
            // as the cause, which the routes log and never send.
            throw MirrorError.unavailable.saying("the cache failed to answer (the server log says why)", cause: error)
        }
    }

    /// A stale or missing tag: `HEAD` the tiers for the digest, and `GET` only when
    /// that digest is not cached. When every tier fails, serve the stale entry.
    private func revalidateTag(
        _ key: TagKey, entry: TagRecord?, chain: TierChain, negativeKey: String, via: String?
    ) async throws -> ManifestResult {
        let what = "manifest \(key.repository):\(key.tag)"
        let head: (value: UpstreamManifestHead, tierIndex: Int, attempts: [TierAttempt])
        do {
            head = try await chain.first { tier throws(UpstreamError) in
                try await tier.client.headManifest(key.repository, .tag(key.tag), accept: Self.upstreamAccept, via: via)
            }
        } catch {
            // Every tier that answered says the tag is gone to the request Strata makes for a
            // pull (every manifest type accepted), and none failed: upstream deleted it.
            let deleted = entry != nil && error.allNotFound
            if deleted && configuration.keepDeletedTags {
                negative.insert(Self.deletedKey(negativeKey), ttl: configuration.tagTTL)
            }
            if let entry, !deleted || configuration.keepDeletedTags, let cached = await local.manifest(entry.digest) {
                logger.warning(deleted ? "serving a tag deleted upstream (cache.deleted_tags: keep)" : "serving stale tag",
                               metadata: ["repository": "\(key.repository)", "tag": "\(key.tag)", "attempts": "\(error)"])
                local.recordAccess(entry.digest, at: now())
                return ManifestResult(bytes: cached.bytes, mediaType: cached.mediaType, digest: entry.digest, tier: .stale, stale: true,
                                      attempts: error.attempts, path: ["stale"])
            }
            if deleted {
                do {
                    try await local.removeTag(registry: key.registry, repository: key.repository, tag: key.tag, deletedAt: now())
                } catch {
                    logger.error("cannot forget a tag deleted upstream", metadata: ["tag": "\(key.repository):\(key.tag)", "error": "\(error)"])
                }
                logger.notice("tag deleted upstream; moved to the deleted tags (strata ls --deleted, strata restore-tag)",
                              metadata: ["repository": "\(key.repository)", "tag": "\(key.tag)", "digest": "\(entry?.digest.description ?? "")"])
                negative.insert(negativeKey, ttl: max(configuration.tagTTL, negative.ttl))
                throw MirrorError.manifestNotFound.saying("manifest \(key.repository):\(key.tag): every tier says the tag no longer exists (deleted upstream)",
                                                          attempts: error.attempts)
            }
            if error.allNotFound { negative.insert(negativeKey) }
            throw exhausted(error, what: what, unknown: .manifestNotFound)
        }
        let digest = head.value.digest
        let tierName = chain.tiers[head.tierIndex].name
        let result: ManifestResult
        if let cached = await local.manifest(digest) {
            result = ManifestResult(bytes: cached.bytes, mediaType: cached.mediaType, digest: digest, tier: .local, stale: false,
                                    attempts: head.attempts, path: ["local"])
            local.recordAccess(digest, at: now())
        } else {
            do {
                // The tier that answered the HEAD is where the request was served; a Strata
                // there reports its own path on the HEAD (its GET is then a cache hit).
                result = try await fetchManifest(registry: key.registry, repository: key.repository, digest: digest,
                                                 chain: chain, startingAt: head.tierIndex, priorAttempts: head.attempts, via: via,
                                                 headPath: (head.tierIndex, head.value.remotePath))
            } catch let error as TierChain.Exhausted {
                throw exhausted(error, what: what, unknown: .manifestNotFound)
            }
        }
        do {
            try await local.setTag(TagRecord(registry: key.registry, repository: key.repository, tag: key.tag, digest: digest,
                                       mediaType: result.mediaType, fetchedAt: now(), tier: tierName.description))
        } catch {
            logger.error("cannot record tag", metadata: ["tag": "\(key.repository):\(key.tag)", "error": "\(error)"])
        }
        return result
    }

    /// `GET` a manifest by digest from the tiers, verify it, store it.
    private func fetchManifest(
        registry: String, repository: RepositoryName, digest: Digest,
        chain: TierChain, startingAt start: Int, priorAttempts: [TierAttempt], via: String?,
        headPath: (tierIndex: Int, path: [String])? = nil
    ) async throws -> ManifestResult {
        let fetched: (value: (manifest: UpstreamManifest, mediaType: String), tierIndex: Int, attempts: [TierAttempt])
        do {
            fetched = try await chain.first(starting: start) { tier throws(UpstreamError) in
                let manifest = try await tier.client.getManifest(repository, .digest(digest), accept: Self.upstreamAccept, via: via)
                let actual = ContentHasher.digest(of: manifest.bytes, algorithm: digest.algorithm)
                guard actual == digest else {
                    throw UpstreamError(.invalidResponse, "manifest digest mismatch: expected \(digest), got \(actual)")
                }
                // The right bytes, but are they a manifest? Checked before anything is stored.
                do {
                    return (manifest, try ManifestCheck.mediaType(of: manifest.bytes, contentType: manifest.mediaType))
                } catch {
                    throw UpstreamError(.invalidResponse, "manifest \(digest): \(error)")
                }
            }
        } catch {
            throw TierChain.Exhausted(attempts: TierAttempt.joined(priorAttempts, error.attempts))
        }
        let tier = chain.tiers[fetched.tierIndex].name
        let mediaType = fetched.value.mediaType
        let manifest = fetched.value.manifest
        let stored = try await local.putManifest(manifest.bytes, digest: digest, record: ManifestRecord(
            registry: registry, repository: repository, digest: digest, mediaType: mediaType, fetchedAt: now(), tier: tier.description))
        notify(.stored(stored))
        return ManifestResult(bytes: manifest.bytes, mediaType: mediaType, digest: digest, tier: tier, stale: false,
                              attempts: TierAttempt.joined(priorAttempts, fetched.attempts),
                              path: [tier.description] + (headPath?.tierIndex == fetched.tierIndex && headPath?.path.isEmpty == false
                                                          ? headPath?.path ?? [] : manifest.remotePath))
    }

    /// Where the verdict "deleted upstream, kept" is remembered for a tag's flight key.
    static func deletedKey(_ flightKey: String) -> String { "deleted|" + flightKey }

    /// A tag, as the single flight and the revalidation know it.
    struct TagKey: Hashable, Sendable {
        let registry: String
        let repository: RepositoryName
        let tag: Tag
    }

    // MARK: Blobs

    public func blob(
        registry: String, repository: RepositoryName, digest: Digest, headOnly: Bool, via: String? = nil
    ) async throws(MirrorError) -> BlobResult {
        if let cached = await local.blob(digest) {
            local.recordAccess(digest, at: now())
            return .stored(CachedBlob(cached))
        }
        let what = "blob \(digest)"
        let negativeKey = "\(registry)/\(repository)@blob:\(digest)"
        if negative.contains(negativeKey) {
            throw MirrorError.blobNotFound.saying("\(what) not found in any tier (remembered for \(Int(negative.ttl))s)")
        }
        let chain = try chain(for: registry)
        if headOnly || chain.tiers.isEmpty {
            do {
                let head = try await chain.first { tier throws(UpstreamError) in
                    try await tier.client.headBlob(repository, digest, via: via)
                }
                let tier = chain.tiers[head.tierIndex].name
                return .upstreamHead(size: head.value, tier: tier, path: [tier.description], attempts: head.attempts)
            } catch {
                if error.allNotFound { negative.insert(negativeKey) }
                throw exhausted(error, what: what, unknown: .blobNotFound)
            }
        }
        let (fill, leader) = fills.join(digest) { BlobFill(digest: digest, threadPool: threadPool) }
        // Leased before the leader starts, so a pass-through never runs with no client.
        let lease = fill.lease()
        if leader {
            // A fill that finished between the lookup above and the join has already
            // committed (commit happens before the fill leaves the table).
            if let cached = await local.blob(digest) {
                fill.failed(FillError(.storage, "superseded"), attempts: [])
                fills.remove(digest, fill)
                return .stored(CachedBlob(cached))
            }
            // The fill runs in its own task: it outlives the client that started it.
            background.submit { await self.runFill(fill, repository: repository, chain: chain, via: via, negativeKey: negativeKey) }
        }
        do {
            let size = try await fill.waitForStart()
            return .filling(fill, size: size, lease: lease)
        } catch {
            let attempts = fill.attempts
            switch error.kind {
            case .notFound: throw MirrorError.blobNotFound.saying("\(what) not found in any tier", attempts: attempts)
            case .refused: throw MirrorError.refused.saying("\(what): \(error.message)", attempts: attempts)
            case .storage:
                throw MirrorError.unavailable.saying("\(what): the cache could not store it (the server log says why)", attempts: attempts, cause: error)
            default: throw MirrorError.tiersFailed.saying("\(what): \(error.message)", attempts: attempts)
            }
        }
    }

    /// Removes `digest` from the store: its bytes failed verification where they were used.
    public func quarantine(_ digest: Digest) async {
        logger.error("stored content failed verification downstream; removed, to be fetched again", metadata: ["digest": "\(digest)"])
        await local.remove(digest)
    }

    /// Whether the store holds `digest` now (a manifest or a blob), without counting a hit.
    public func holds(_ digest: Digest) async -> Bool {
        if local.manifestInMemory(digest) != nil || local.rawFileInMemory(digest) != nil { return true }
        return await local.blob(digest) != nil
    }

    // MARK: Listing

    public func tags(registry: String, repository: RepositoryName) async throws -> [Tag] {
        try await local.tags(registry: registry, repository: repository)
    }

    public func repositories(registry: String) async throws -> [RepositoryName] {
        try await local.repositories(registry: registry)
    }
}
