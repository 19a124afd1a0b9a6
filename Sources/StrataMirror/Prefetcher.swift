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

    /// Prefetches each image; `platforms` like `linux/amd64` (nil: all of them).
    public func run(_ images: [ImageReference], platforms: [String]?, progress: (Event) async -> Void) async -> Summary {
        var summary = Summary()
        for image in images {
            do {
                try await prefetch(image, platforms: platforms, summary: &summary, progress: progress)
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

    private func prefetch(_ image: ImageReference, platforms: [String]?, summary: inout Summary, progress: (Event) async -> Void) async throws {
        let name = image.description
        let all = ManifestAccept(headers: [])
        let root = try await engine.manifest(registry: image.registry, repository: image.repository, reference: image.reference, accept: all)
        summary.manifests += 1
        await progress(Event(image: name, kind: .manifest, digest: root.digest.description, bytes: Int64(root.bytes.count), cached: root.tier == .local))
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
    }

    /// `linux/arm64` takes `linux/arm64/v8`; an entry without a platform is always taken.
    static func wanted(_ platform: String?, _ platforms: [String]?) -> Bool {
        guard let platforms, !platforms.isEmpty, let platform else { return true }
        return platforms.contains { platform == $0 || platform.hasPrefix($0 + "/") }
    }
}
