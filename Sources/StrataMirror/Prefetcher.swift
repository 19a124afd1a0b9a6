import Foundation
import StrataCore
import StrataStore

/// Pulls whole images through the tiers into the cache, as a client would, without
/// sending the bytes anywhere: every platform, or only those asked for.
public struct Prefetcher: Sendable {
    let engine: MirrorEngine

    public init(engine: MirrorEngine) {
        self.engine = engine
    }

    /// Prefetches each image; `platforms` like `linux/amd64` (nil: all of them). With
    /// `withReferrers`, also what the OCI 1.1 referrers API lists for each of its
    /// manifests (signatures, SBOMs, attestations), and what refers to those, two deep.
    public func run(_ images: [ImageReference], platforms: [String]?, withReferrers: Bool = false,
                    progress: (Event) async -> Void) async -> Summary {
        var summary = Summary()
        for image in images {
            do {
                let manifests = try await prefetch(image, platforms: platforms, as: image.description, summary: &summary, progress: progress)
                if withReferrers {
                    for digest in manifests {
                        try await prefetchReferrers(of: digest, in: image, depth: 0, summary: &summary, progress: progress)
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
        return summary
    }

    /// One image's manifests and blobs; returns the digests of its manifests.
    private func prefetch(
        _ image: ImageReference, platforms: [String]?, as name: String, summary: inout Summary, progress: (Event) async -> Void
    ) async throws -> [Digest] {
        let all = ManifestAccept(headers: [])
        let root = try await engine.manifest(registry: image.registry, repository: image.repository, reference: image.reference, accept: all)
        summary.manifests += 1
        await progress(Event(image: name, kind: .manifest, digest: root.digest.description, bytes: Int64(root.bytes.count), cached: root.tier == .local))
        var digests = [root.digest]
        var manifests: [[UInt8]] = []
        let references = try ManifestReferences(parsing: root.bytes)
        if references.manifests.isEmpty {
            manifests.append(root.bytes)
        } else {
            for child in references.manifests where Self.wanted(child.platform, platforms) {
                let result = try await engine.manifest(registry: image.registry, repository: image.repository, reference: .digest(child.digest), accept: all)
                summary.manifests += 1
                await progress(Event(image: name, kind: .manifest, digest: child.digest.description, bytes: child.size, cached: result.tier == .local))
                manifests.append(result.bytes)
                digests.append(child.digest)
            }
        }
        for bytes in manifests {
            let parts = try ManifestReferences(parsing: bytes)
            for blob in [parts.config].compactMap({ $0 }) + parts.layers {
                let result = try await engine.blob(registry: image.registry, repository: image.repository, digest: blob.digest, headOnly: false)
                var cached = false
                switch result {
                case .stored:
                    cached = true
                case .filling(let fill, _, _):
                    do {
                        _ = try await fill.waitUntilDone()
                    } catch {
                        throw MirrorError.unavailable.saying("blob \(blob.digest): \(error.message)")
                    }
                case .upstreamHead:
                    break
                }
                summary.blobs += 1
                if cached { summary.cachedBlobs += 1 } else { summary.fetchedBytes = summary.fetchedBytes.saturatingAdd(blob.size) }  // a descriptor's size is upstream's word
                await progress(Event(image: name, kind: .blob, digest: blob.digest.description, bytes: blob.size, cached: cached))
            }
        }
        return digests
    }

    /// What refers to `subject`, each prefetched as an image of its own; a tier without
    /// the referrers API (or nothing attached) is not a failure.
    private func prefetchReferrers(
        of subject: Digest, in image: ImageReference, depth: Int, summary: inout Summary, progress: (Event) async -> Void
    ) async throws {
        guard depth < 2, let listed = try await referrers(of: subject, in: image) else { return }
        for entry in listed.manifests {
            let referrer = ImageReference(registry: image.registry, repository: image.repository, reference: .digest(entry.digest))
            _ = try await prefetch(referrer, platforms: nil, as: image.description, summary: &summary, progress: progress)
            try await prefetchReferrers(of: entry.digest, in: image, depth: depth + 1, summary: &summary, progress: progress)
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
