import Foundation
import Logging
import StrataCore
import StrataStore

/// Keeps the cache within its bounds: removes idle blobs and, above `max_size`, the
/// least recently requested ones, never touching pinned images or blobs being served.
public final class CacheJanitor: Sendable {
    public struct Report: Sendable, Codable, Equatable {
        public var removed = 0
        public var bytes: Int64 = 0
        public var idle = 0
        public var storedBefore: Int64 = 0
        public var storedAfter: Int64 = 0
    }

    let engine: MirrorEngine
    let disk: DiskContentStore
    public let limits: EvictionPlan.Limits
    /// Image references whose content is never evicted: `library/alpine:3.20`,
    /// `ghcr.io/org/app:1`, or by digest.
    public let pins: [String]
    private let logger: Logger
    private let now: @Sendable () -> Date

    public init(engine: MirrorEngine, disk: DiskContentStore, limits: EvictionPlan.Limits, pins: [String], logger: Logger, now: @escaping @Sendable () -> Date = Date.init) {
        self.engine = engine
        self.disk = disk
        self.limits = limits
        self.pins = pins
        self.logger = logger
        self.now = now
    }

    /// Whether a cache of `stored` bytes is over the bound.
    public func isOverLimit(stored: Int64) -> Bool {
        limits.maxSize.map { stored > $0 } ?? false
    }

    /// One pass: plan, then remove. Hits counted in memory are written first, so the
    /// plan sees the latest access times.
    @discardableResult
    public func run() async throws -> Report {
        let started = ContinuousClock.now
        try disk.access.flush()
        var protected = engine.inUse.digests
        protected.formUnion(await pinnedDigests())
        let stored = try disk.index.storedBytes().stored
        let plan = EvictionPlan(total: stored, oldestFirst: EvictionCandidates(index: disk.index), limits: limits, protected: protected, now: now())
        var report = Report()
        report.storedBefore = stored
        // In batches: the files of a batch go on threads of their own (side by side), then
        // its rows in one transaction; requests run meanwhile.
        for start in stride(from: 0, to: plan.victims.count, by: 256) {
            var removed: [Digest] = []
            for victim in plan.victims[start..<min(start + 256, plan.victims.count)] {
                // A response may have started on this blob since the plan was made.
                if engine.inUse.contains(victim.digest) { continue }
                disk.forget(victim.digest)
                removed.append(victim.digest)
                report.removed += 1
                report.bytes += victim.bytes
                if victim.reason == .idle { report.idle += 1 }
            }
            await disk.blobs.remove(removed)
            try disk.index.removeBlobs(removed)
        }
        report.storedAfter = report.storedBefore - report.bytes
        if report.removed > 0 {
            logger.info("cache evicted", metadata: ["blobs": "\(report.removed)", "bytes": "\(report.bytes)", "idle": "\(report.idle)",
                                                    "stored": "\(report.storedAfter)", "seconds": "\((ContinuousClock.now - started).inSeconds)"])
        }
        return report
    }

    /// Every digest of the pinned images: manifests, platform manifests, configs, layers.
    func pinnedDigests() async -> Set<Digest> {
        var out = Set<Digest>()
        for pin in pins {
            guard let reference = ImageReference(parsing: pin, defaultRegistry: engine.configuration.defaultRegistry) else {
                logger.warning("ignoring a pin that is not an image reference", metadata: ["pin": "\(pin)"])
                continue
            }
            var root: Digest?
            switch reference.reference {
            case .digest(let digest): root = digest
            case .tag(let tag):
                root = try? disk.index.tag(registry: reference.registry, repository: reference.repository, tag: tag)?.digest
            }
            guard let root else { continue }
            await collect(root, into: &out)
        }
        return out
    }

    private func collect(_ digest: Digest, into out: inout Set<Digest>) async {
        guard out.insert(digest).inserted, let bytes = try? await disk.blobs.readAll(digest),
              let references = try? ManifestReferences(parsing: bytes) else { return }
        for child in references.manifests { await collect(child.digest, into: &out) }
        for blob in [references.config].compactMap({ $0 }) + references.layers { out.insert(blob.digest) }
    }
}
