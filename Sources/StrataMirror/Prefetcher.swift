import Foundation
import StrataCore
import StrataAdminModel
import StrataStore
import StrataUpstream

/// Pulls whole images through the tiers into the cache, as a client would, without
/// sending the bytes anywhere: every platform, or only those asked for.
public struct Prefetcher: Sendable {
    let engine: MirrorEngine
    /// Where each manifest and blob prefetched is recorded (client `prefetch`), so the
    /// traffic shows in the stats, the dashboard and the metrics.
    let ledger: Ledger?
    let now: @Sendable () -> Date

    /// A manifest or blob a prefetch brought into the cache, for the image it belongs to.
    typealias Fetched = (image: ImageReference, digest: Digest, size: Int64)

    /// Waits until the eviction the prefetch's fills set off has run (the server's
    /// eviction service), so that what the cache bound took again is known.
    let settle: @Sendable () async -> Void

    public init(engine: MirrorEngine, ledger: Ledger? = nil, now: @escaping @Sendable () -> Date = Date.init,
                settle: @escaping @Sendable () async -> Void = {}) {
        self.engine = engine
        self.ledger = ledger
        self.now = now
        self.settle = settle
    }

    /// Bytes between two progress reports of one blob: a tenth of it, at least 16 MiB.
    static func progressStep(_ size: Int64) -> Int64 { max(16 << 20, size / 10) }

    private func record(_ kind: LedgerRecord.Kind, image: ImageReference, reference: String, started: Date, bytes: Int64,
                        tier: String, path: [String], attempts: [TierAttempt]) {
        guard let ledger else { return }
        let route = kind == .manifest ? "manifests" : "blobs"
        ledger.record(LedgerRecord(
            time: started, client: "prefetch", userAgent: "strata prefetch", method: "GET",
            path: "/v2/\(image.repository.value)/\(route)/\(reference)", kind: kind, registry: image.registry,
            repository: image.repository.value, reference: reference, status: 200, bytes: bytes,
            seconds: now().timeIntervalSince(started), tier: tier, tierPath: path, attempts: attempts.map(LedgerRecord.Attempt.init)))
    }

    /// Prefetches each image; `platforms` like `linux/amd64` (nil: all of them). With
    /// `withReferrers`, also what the OCI 1.1 referrers API lists for each of its
    /// manifests (signatures, SBOMs, attestations), and what refers to those, two deep.
    public func run(_ images: [ImageReference], platforms: [String]?, withReferrers: Bool = false,
                    progress: (Event) async -> Void) async -> Summary {
        var summary = Summary()
        var fetched: [Fetched] = []
        for image in images {
            do {
                let manifests = try await prefetch(image, platforms: platforms, as: image.description, summary: &summary,
                                                   fetched: &fetched, progress: progress)
                if withReferrers {
                    for digest in manifests {
                        try await prefetchReferrers(of: digest, in: image, depth: 0, summary: &summary, fetched: &fetched, progress: progress)
                    }
                }
                summary.images += 1
                await progress(Event(image: image.description, kind: .done))
            } catch {
                summary.failed += 1
                let message = (error as? MirrorError)?.message ?? "\(error)"
                await progress(Event(image: image.description, kind: .failed, message: message))
            }
        }
        await reportEvicted(fetched, summary: &summary, progress: progress)
        return summary
    }

    /// What the cache bound took again before the prefetch ended: a prefetch larger than
    /// `cache.max_size` (or one beside a busy cache) warms nothing, and says so per image.
    private func reportEvicted(_ fetched: [Fetched], summary: inout Summary,
                               progress: (Event) async -> Void) async {
        await settle()
        var gone: [Fetched] = []
        for item in fetched where await !engine.holds(item.digest) { gone.append(item) }
        guard !gone.isEmpty else { return }
        summary.evicted = gone.count
        var order: [String] = []
        var byImage: [String: [(digest: Digest, size: Int64)]] = [:]
        for item in gone {
            let name = item.image.description
            if byImage[name] == nil { order.append(name) }
            byImage[name, default: []].append((item.digest, item.size))
        }
        for name in order {
            let items = byImage[name] ?? []
            let bytes = items.reduce(Int64(0)) { $0.saturatingAdd($1.size) }
            await progress(Event(image: name, kind: .evicted, digest: items.first?.digest.description, bytes: bytes,
                                 message: "the cache bound (cache.max_size) evicted \(items.count) of its manifests and blobs right after they were fetched"))
        }
    }

    /// One image's manifests and blobs; returns the digests of its manifests.
    private func prefetch(
        _ image: ImageReference, platforms: [String]?, as name: String, summary: inout Summary,
        fetched: inout [Fetched], progress: (Event) async -> Void
    ) async throws -> [Digest] {
        let all = ManifestAccept(headers: [])
        let rootStarted = now()
        let root = try await engine.manifest(registry: image.registry, repository: image.repository, reference: image.reference, accept: all)
        record(.manifest, image: image, reference: image.reference.description, started: rootStarted, bytes: Int64(root.bytes.count),
               tier: root.tier.description, path: root.path, attempts: root.attempts)
        fetched.append((image, root.digest, Int64(root.bytes.count)))
        summary.manifests += 1
        await progress(Event(image: name, kind: .manifest, digest: root.digest.description, bytes: Int64(root.bytes.count), cached: root.tier == .local))
        var digests = [root.digest]
        var manifests: [[UInt8]] = []
        let references = try ManifestReferences(parsing: root.bytes)
        if references.manifests.isEmpty {
            manifests.append(root.bytes)
        } else {
            for child in references.manifests where Self.wanted(child.platform, platforms) {
                let started = now()
                let result = try await engine.manifest(registry: image.registry, repository: image.repository, reference: .digest(child.digest), accept: all)
                record(.manifest, image: image, reference: child.digest.description, started: started, bytes: Int64(result.bytes.count),
                       tier: result.tier.description, path: result.path, attempts: result.attempts)
                summary.manifests += 1
                await progress(Event(image: name, kind: .manifest, digest: child.digest.description, bytes: child.size, cached: result.tier == .local))
                manifests.append(result.bytes)
                digests.append(child.digest)
                fetched.append((image, child.digest, Int64(result.bytes.count)))
            }
        }
        var blobs: [(ManifestReferences.Descriptor, Event.Kind, Int?)] = []
        for bytes in manifests {
            let parts = try ManifestReferences(parsing: bytes)
            blobs += [parts.config].compactMap { $0 }.map { ($0, Event.Kind.config, nil) }
            blobs += parts.layers.enumerated().map { ($0.element, Event.Kind.blob, $0.offset + 1) }
        }
        fetched += blobs.map { (image, $0.0.digest, $0.0.size) }
        // A few blobs at once (a prefetch is as impatient as a client pulling); their
        // progress and results come back through one stream, reported here in turn.
        let (events, sink) = AsyncStream.makeStream(of: BlobEvent.self)
        let queue = blobs
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { sink.finish() }
                try await withThrowingTaskGroup(of: Void.self) { workers in
                    var pending = queue[...]
                    for _ in 0..<Self.blobsAtOnce {
                        guard let next = pending.popFirst() else { break }
                        workers.addTask { try await self.fetchBlob(next.0, kind: next.1, layer: next.2, of: image, as: name, events: sink) }
                    }
                    while try await workers.next() != nil {
                        guard let next = pending.popFirst() else { continue }
                        workers.addTask { try await self.fetchBlob(next.0, kind: next.1, layer: next.2, of: image, as: name, events: sink) }
                    }
                }
            }
            for await event in events {
                switch event {
                case .progress(let report):
                    await progress(report)
                case .done(let report, let cached, let size):
                    summary.blobs += 1
                    // A descriptor's size is upstream's word.
                    if cached { summary.cachedBlobs += 1 } else { summary.fetchedBytes = summary.fetchedBytes.saturatingAdd(size) }
                    await progress(report)
                }
            }
            try await group.waitForAll()
        }
        return digests
    }

    static let blobsAtOnce = 4

    /// What a blob worker reports.
    enum BlobEvent: Sendable {
        case progress(Event)
        case done(Event, cached: Bool, size: Int64)
    }

    /// One blob into the cache, following its fill to report how far it got.
    private func fetchBlob(
        _ blob: ManifestReferences.Descriptor, kind: Event.Kind, layer: Int?, of image: ImageReference, as name: String,
        events: AsyncStream<BlobEvent>.Continuation
    ) async throws {
        let started = now()
        let result = try await engine.blob(registry: image.registry, repository: image.repository, digest: blob.digest, headOnly: false)
        var cached = false
        var tier = TierName.local, path = ["local"], attempts: [TierAttempt] = []
        switch result {
        case .stored:
            cached = true
        case .filling(let fill, let size, let lease):
            do {
                // Offsets only: nothing is read.
                let step = Self.progressStep(size ?? blob.size)
                var reported: Int64 = 0
                try await fill.follow(from: 0, to: size, lease: lease, chunkSize: 4 << 20) { piece in
                    guard case .file(_, let reached) = piece, reached - reported >= step, let size, reached < size else { return }
                    reported = reached
                    events.yield(.progress(Event(image: name, kind: .progress, digest: blob.digest.description, bytes: reached,
                                                 total: size, layer: layer)))
                }
                _ = try await fill.waitUntilDone()
            } catch {
                throw MirrorError.unavailable.saying("blob \(blob.digest): \((error as? FillError)?.message ?? "\(error)")")
            }
            (tier, path, attempts) = (fill.tier, fill.path, fill.attempts)
        case .upstreamHead:
            break
        }
        record(.blob, image: image, reference: blob.digest.description, started: started, bytes: cached ? 0 : blob.size,
               tier: tier.description, path: path, attempts: attempts)
        events.yield(.done(Event(image: name, kind: kind, digest: blob.digest.description, bytes: blob.size, cached: cached, layer: layer),
                           cached: cached, size: blob.size))
    }

    /// What refers to `subject`, each prefetched as an image of its own; a tier without
    /// the referrers API (or nothing attached) is not a failure.
    private func prefetchReferrers(
        of subject: Digest, in image: ImageReference, depth: Int, summary: inout Summary,
        fetched: inout [Fetched], progress: (Event) async -> Void
    ) async throws {
        guard depth < 2, let listed = try await referrers(of: subject, in: image) else { return }
        for entry in listed.manifests {
            let referrer = ImageReference(registry: image.registry, repository: image.repository, reference: .digest(entry.digest))
            _ = try await prefetch(referrer, platforms: nil, as: image.description, summary: &summary, fetched: &fetched, progress: progress)
            try await prefetchReferrers(of: entry.digest, in: image, depth: depth + 1, summary: &summary, fetched: &fetched, progress: progress)
        }
    }

    /// The referrers of `subject`; nil when no tier has the API or nothing is attached.
    private func referrers(of subject: Digest, in image: ImageReference) async throws -> ReferrersIndex? {
        do {
            return try await engine.referrers(registry: image.registry, repository: image.repository, subject: subject).index
        } catch where error == .referrersNotSupported {
            return nil
        }
    }

    /// `linux/arm64` takes `linux/arm64/v8`; an entry without a platform is always taken.
    static func wanted(_ platform: String?, _ platforms: [String]?) -> Bool {
        guard let platforms, !platforms.isEmpty, let platform else { return true }
        return platforms.contains { platform == $0 || platform.hasPrefix($0 + "/") }
    }
}
