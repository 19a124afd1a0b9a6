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
    public let store: BlobStore
    public let index: CacheIndex
    public let configuration: MirrorConfiguration
    public let access: AccessRecorder
    let logger: Logger
    let now: @Sendable () -> Date
    private let threadPool: NIOThreadPool
    private let freshness: TagFreshness
    let negative: NegativeCache

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
    private let hot = NIOLockedValueBox(HotIndex())

    /// What a cache hit needs, kept in memory: tag → digest, digest → manifest bytes,
    /// digest → stored blob.
    private struct HotIndex {
        struct TagKey: Hashable {
            let registry: String
            let repository: RepositoryName
            let tag: Tag
        }
        struct TagEntry {
            let digest: Digest
            let mediaType: String
            var fetchedAt: Date
        }
        var tags: [TagKey: TagEntry] = [:]
        var manifests: [Digest: (bytes: [UInt8], mediaType: String)] = [:]
        var blobs: [Digest: StoredBlob] = [:]
    }

    public init(
        store: BlobStore, index: CacheIndex, configuration: MirrorConfiguration, logger: Logger,
        threadPool: NIOThreadPool = .singleton, now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.store = store
        self.index = index
        self.configuration = configuration
        self.access = AccessRecorder(index: index)
        self.logger = logger
        self.threadPool = threadPool
        self.now = now
        self.freshness = TagFreshness(ttl: configuration.tagTTL)
        self.negative = NegativeCache(ttl: configuration.negativeTTL, now: now)
    }

    /// Set while the cache directory is known lost, so that the loss is logged once.
    private let storageLost = NIOLockedValueBox(false)

    /// Checks that the cache directory is still there; when it vanished under the
    /// running server (deleted by hand, a volume unmounted), logs it once as an error,
    /// rebuilds it empty, reopens the index and forgets what was cached, so that pulls
    /// refill from upstream without a restart. Returns whether storage is usable now.
    @discardableResult
    public func recoverStorageIfLost() -> Bool {
        guard !store.isIntact || !index.fileExists else {
            storageLost.withLockedValue { $0 = false }
            return true
        }
        let first = storageLost.withLockedValue { lost in defer { lost = true }; return !lost }
        if first {
            logger.error("the cache directory vanished under the running server; rebuilding it empty and refilling from upstream",
                         metadata: ["dir": "\(store.layout.root)"])
        }
        do {
            try store.rebuild()
            if !index.fileExists { try index.reopen() }
        } catch {
            if first { logger.error("cannot rebuild the cache directory", metadata: ["error": "\(error)"]) }
            return false
        }
        hot.withLockedValue { $0 = HotIndex() }
        storageLost.withLockedValue { $0 = false }
        logger.notice("cache directory rebuilt", metadata: ["dir": "\(store.layout.root)"])
        return true
    }

    /// The number of blob fills running now.
    public var fillsInFlight: Int { fills.count }

    private func chain(for registry: String) throws(MirrorError) -> TierChain {
        if configuration.cacheOnly { return TierChain([]) }
        guard let chain = configuration.chains[registry] else {
            throw MirrorError.registryNotConfigured.saying("no upstream is configured for registry \(registry)")
        }
        return chain
    }

    /// The error for content no tier delivered, from how the walk went.
    private func exhausted(_ error: TierChain.Exhausted, what: String, unknown: MirrorError) -> MirrorError {
        if configuration.cacheOnly {
            return unknown.saying("\(what) is not cached, and this mirror is in cache-only mode")
        }
        if error.allNotFound { return unknown.saying("\(what) not found in any tier", attempts: error.attempts) }
        if error.refused {
            return MirrorError.refused.saying("\(what): upstream refused access (check the credentials for: \(error.attempts.filter { $0.outcome == .failed(.unauthorized) }.map(\.tier.description).joined(separator: ", ")))",
                               attempts: error.attempts)
        }
        return MirrorError.unavailable.saying("\(what): no tier could answer (\(error))", attempts: error.attempts)
    }

    // MARK: Manifests

    public func manifest(
        registry: String, repository: RepositoryName, reference: Reference, accept: ManifestAccept, via: String? = nil
    ) async throws(MirrorError) -> ManifestResult {
        switch reference {
        case .digest(let digest):
            if let cached = await cachedManifest(digest) {
                access.record(digest, at: now())
                return ManifestResult(bytes: cached.bytes, mediaType: cached.mediaType, digest: digest, tier: .cache, stale: false, attempts: [], path: ["cache"])
            }
            let key = "\(registry)/\(repository)@\(digest)"
            if negative.contains(key) {
                throw MirrorError.manifestNotFound.saying("manifest \(repository)@\(digest) not found in any tier (remembered for \(Int(negative.ttl))s)")
            }
            let chain = try chain(for: registry)
            return try await flight(key) {
                do {
                    return try await self.fetchManifest(registry: registry, repository: repository, digest: digest, accept: accept,
                                                        chain: chain, startingAt: 0, priorAttempts: [], via: via)
                } catch let error as TierChain.Exhausted {
                    if error.allNotFound { self.negative.insert(key) }
                    throw self.exhausted(error, what: "manifest \(repository)@\(digest)", unknown: .manifestNotFound)
                }
            }
        case .tag(let tag):
            let key = HotIndex.TagKey(registry: registry, repository: repository, tag: tag)
            let entry = cachedTag(key)
            // In cache-only mode there is no one to revalidate with: a cached tag is simply cached.
            if let entry, accept.accepts(entry.mediaType),
               configuration.cacheOnly || freshness.decide(fetchedAt: entry.fetchedAt, now: now()) == .fresh,
               let cached = await cachedManifest(entry.digest) {
                access.record(entry.digest, at: now())
                return ManifestResult(bytes: cached.bytes, mediaType: cached.mediaType, digest: entry.digest, tier: .cache, stale: false, attempts: [], path: ["cache"])
            }
            let flightKey = "\(registry)/\(repository):\(tag)|\(accept.types.joined(separator: ","))"
            if entry == nil && negative.contains(flightKey) {
                throw MirrorError.manifestNotFound.saying("manifest \(repository):\(tag) not found in any tier (remembered for \(Int(negative.ttl))s)")
            }
            let chain = try chain(for: registry)
            return try await flight(flightKey) {
                try await self.revalidateTag(key, entry: entry, accept: accept, chain: chain, negativeKey: flightKey, via: via)
            }
        }
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
        _ key: HotIndex.TagKey, entry: HotIndex.TagEntry?, accept: ManifestAccept, chain: TierChain, negativeKey: String, via: String?
    ) async throws -> ManifestResult {
        let what = "manifest \(key.repository):\(key.tag)"
        let head: (value: UpstreamManifestHead, tierIndex: Int, attempts: [TierAttempt])
        do {
            head = try await chain.first { tier throws(UpstreamError) in
                try await tier.client.headManifest(key.repository, .tag(key.tag), accept: accept.upstreamHeaders, via: via)
            }
        } catch {
            if let entry, accept.accepts(entry.mediaType), let cached = await cachedManifest(entry.digest) {
                logger.warning("serving stale tag", metadata: ["repository": "\(key.repository)", "tag": "\(key.tag)", "attempts": "\(error)"])
                access.record(entry.digest, at: now())
                return ManifestResult(bytes: cached.bytes, mediaType: cached.mediaType, digest: entry.digest, tier: .stale, stale: true,
                                      attempts: error.attempts, path: ["stale"])
            }
            if error.allNotFound { negative.insert(negativeKey) }
            throw exhausted(error, what: what, unknown: .manifestNotFound)
        }
        let digest = head.value.digest
        let tierName = chain.tiers[head.tierIndex].name
        let result: ManifestResult
        if let cached = await cachedManifest(digest) {
            result = ManifestResult(bytes: cached.bytes, mediaType: cached.mediaType, digest: digest, tier: .cache, stale: false,
                                    attempts: head.attempts, path: ["cache"])
            access.record(digest, at: now())
        } else {
            do {
                // The tier that answered the HEAD is where the request was served; a Strata
                // there reports its own path on the HEAD (its GET is then a cache hit).
                result = try await fetchManifest(registry: key.registry, repository: key.repository, digest: digest, accept: accept,
                                                 chain: chain, startingAt: head.tierIndex, priorAttempts: head.attempts, via: via,
                                                 headPath: (head.tierIndex, head.value.remotePath))
            } catch let error as TierChain.Exhausted {
                throw exhausted(error, what: what, unknown: .manifestNotFound)
            }
        }
        // A client that cannot take an index may get a platform manifest for the tag;
        // only a complete view re-points the cached tag.
        if entry == nil || accept.acceptsIndex || entry?.mediaType == result.mediaType {
            let fetchedAt = now()
            hot.withLockedValue { $0.tags[key] = HotIndex.TagEntry(digest: digest, mediaType: result.mediaType, fetchedAt: fetchedAt) }
            do {
                try index.setTag(.init(registry: key.registry, repository: key.repository, tag: key.tag, digest: digest,
                                       mediaType: result.mediaType, fetchedAt: fetchedAt, tier: tierName.description))
            } catch {
                logger.error("cannot record tag", metadata: ["tag": "\(key.repository):\(key.tag)", "error": "\(error)"])
            }
        }
        return result
    }

    /// `GET` a manifest by digest from the tiers, verify it, store it.
    private func fetchManifest(
        registry: String, repository: RepositoryName, digest: Digest, accept: ManifestAccept,
        chain: TierChain, startingAt start: Int, priorAttempts: [TierAttempt], via: String?,
        headPath: (tierIndex: Int, path: [String])? = nil
    ) async throws -> ManifestResult {
        let fetched: (value: (manifest: UpstreamManifest, mediaType: String), tierIndex: Int, attempts: [TierAttempt])
        do {
            fetched = try await chain.first(starting: start) { tier throws(UpstreamError) in
                let manifest = try await tier.client.getManifest(repository, .digest(digest), accept: accept.upstreamHeaders, via: via)
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
            throw TierChain.Exhausted(attempts: priorAttempts + error.attempts)
        }
        let tier = chain.tiers[fetched.tierIndex].name
        let mediaType = fetched.value.mediaType
        let manifest = fetched.value.manifest
        let stored: StoredBlob
        do {
            stored = try await store.put(manifest.bytes, digest: digest)
        } catch {
            guard !store.isIntact, recoverStorageIfLost() else { throw error }
            stored = try await store.put(manifest.bytes, digest: digest)
        }
        let time = now()
        try index.recordBlob(stored, mediaType: mediaType, at: time)
        try index.addManifest(.init(registry: registry, repository: repository, digest: digest, mediaType: mediaType, fetchedAt: time, tier: tier.description))
        hot.withLockedValue {
            $0.manifests[digest] = (manifest.bytes, mediaType)
            $0.blobs[digest] = stored
        }
        notify(.stored(stored))
        return ManifestResult(bytes: manifest.bytes, mediaType: mediaType, digest: digest, tier: tier, stale: false,
                              attempts: priorAttempts + fetched.attempts,
                              path: [tier.description] + (headPath?.tierIndex == fetched.tierIndex && headPath?.path.isEmpty == false
                                                          ? headPath?.path ?? [] : manifest.remotePath))
    }

    private func cachedTag(_ key: HotIndex.TagKey) -> HotIndex.TagEntry? {
        if let entry = hot.withLockedValue({ $0.tags[key] }) { return entry }
        guard let row = try? index.tag(registry: key.registry, repository: key.repository, tag: key.tag) else { return nil }
        let entry = HotIndex.TagEntry(digest: row.digest, mediaType: row.mediaType, fetchedAt: row.fetchedAt)
        hot.withLockedValue { $0.tags[key] = entry }
        return entry
    }

    private func cachedManifest(_ digest: Digest) async -> (bytes: [UInt8], mediaType: String)? {
        if let hit = hot.withLockedValue({ $0.manifests[digest] }) { return hit }
        guard let row = try? index.blob(digest), let mediaType = row.mediaType,
              let reader = try? store.open(digest), let bytes = try? await reader.readAll() else { return nil }
        // Small objects are verified on every read from disk: a damaged one is dropped
        // and fetched again, never served.
        guard ContentHasher.digest(of: bytes, algorithm: digest.algorithm) == digest else {
            logger.error("stored manifest fails its digest; removed, to be fetched again", metadata: ["digest": "\(digest)"])
            quarantine(digest)
            return nil
        }
        hot.withLockedValue { $0.manifests[digest] = (bytes, mediaType) }
        return (bytes, mediaType)
    }

    // MARK: Blobs

    public func blob(
        registry: String, repository: RepositoryName, digest: Digest, headOnly: Bool, via: String? = nil
    ) async throws(MirrorError) -> BlobResult {
        if let cached = await cachedBlob(digest) {
            access.record(digest, at: now())
            return .stored(cached)
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
            if let cached = await cachedBlob(digest) {
                fill.failed(FillError(.storage, "superseded"), attempts: [])
                fills.remove(digest, fill)
                return .stored(cached)
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
            default: throw MirrorError.unavailable.saying("\(what): \(error.message)", attempts: attempts)
            }
        }
    }

    /// A stored blob ready to serve; a small one is read and verified here, and served
    /// from those verified bytes rather than read again.
    private func cachedBlob(_ digest: Digest) async -> CachedBlob? {
        if hot.withLockedValue({ $0.blobs[digest] }) == nil {
            guard let stored = store.lookup(digest) else { return nil }
            hot.withLockedValue { $0.blobs[digest] = stored }
        }
        guard let reader = try? store.open(digest) else {
            // Removed underneath us (eviction, verify, the whole directory): forget it and fill again.
            _ = hot.withLockedValue { $0.blobs.removeValue(forKey: digest) }
            recoverStorageIfLost()
            return nil
        }
        if reader.blob.size <= Self.verifyOnReadLimit {
            let bytes = try? await reader.readAll()
            guard let bytes, ContentHasher.digest(of: bytes, algorithm: digest.algorithm) == digest else {
                logger.error("stored blob fails its digest; quarantined, to be fetched again", metadata: ["digest": "\(digest)"])
                quarantine(digest)
                return nil
            }
            return CachedBlob(reader: reader, verifiedBytes: bytes)
        }
        return CachedBlob(reader: reader)
    }

    /// Keeps a stored blob in the in-memory index, for the next hit.
    func remember(_ stored: StoredBlob) {
        hot.withLockedValue { $0.blobs[stored.digest] = stored }
    }

    /// Moves a blob that failed its digest out of the store and the indexes: the next
    /// request fetches it again.
    public func quarantine(_ digest: Digest) {
        do {
            try store.quarantine(digest)
        } catch {
            logger.error("cannot quarantine blob; removing it", metadata: ["digest": "\(digest)", "error": "\(error)"])
            store.remove(digest)
        }
        do {
            try index.removeBlob(digest)
        } catch {
            logger.error("cannot drop blob from the index", metadata: ["digest": "\(digest)", "error": "\(error)"])
        }
        forget(digest)
    }

    /// Stored blobs up to this size are re-hashed on every read from disk (configs,
    /// small layers); larger ones are left to the background scrub.
    public static let verifyOnReadLimit: Int64 = 256 << 10

    /// Drops a blob from the in-memory indexes (it is being removed from the store).
    public func forget(_ digest: Digest) {
        hot.withLockedValue { hot in
            hot.blobs[digest] = nil
            hot.manifests[digest] = nil
            hot.tags = hot.tags.filter { $0.value.digest != digest }
        }
    }

    // MARK: Listing

    public func tags(registry: String, repository: RepositoryName) throws -> [Tag] {
        try index.tags(registry: registry, repository: repository).map(\.tag)
    }

    public func repositories(registry: String) throws -> [RepositoryName] {
        try index.repositories(registry: registry)
    }
}
