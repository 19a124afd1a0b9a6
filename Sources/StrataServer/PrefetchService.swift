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
                }
                logger.info("prefetch round", metadata: ["images": "\(summary.images)", "failed": "\(summary.failed)",
                                                         "blobs": "\(summary.blobs)", "fetched": "\(summary.fetchedBytes)"])
                onRound(summary)
                try? await Task.sleep(for: refresh)
            }
        }
    }
}
