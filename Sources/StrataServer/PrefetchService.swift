import Foundation
import Logging
import ServiceLifecycle
import StrataCore
import StrataMirror

/// Keeps the configured images warm: prefetches them at start-up and every `refresh`.
struct PrefetchService: Service {
    let prefetcher: Prefetcher
    let images: [ImageReference]
    let platforms: [String]?
    let refresh: Duration
    let logger: Logger
    /// Called after each round, with its summary (for tests and logs).
    let onRound: @Sendable (Prefetcher.Summary) -> Void

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let summary = await prefetcher.run(images, platforms: platforms) { event in
                    if event.kind == .failed {
                        logger.warning("prefetch failed", metadata: ["image": "\(event.image)", "error": "\(event.message ?? "")"])
                    }
                    if event.kind == .evicted {
                        logger.warning("prefetched content evicted again: raise cache.max_size or prefetch less",
                                       metadata: ["image": "\(event.image)", "bytes": "\(event.bytes ?? 0)", "why": "\(event.message ?? "")"])
                    }
                }
                logger.info("prefetch round", metadata: ["images": "\(summary.images)", "failed": "\(summary.failed)",
                                                         "blobs": "\(summary.blobs)", "fetched": "\(summary.fetchedBytes)",
                                                         "evicted": "\(summary.evicted)"])
                onRound(summary)
                try? await Task.sleep(for: refresh)
            }
        }
    }
}
