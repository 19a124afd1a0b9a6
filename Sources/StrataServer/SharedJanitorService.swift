import Foundation
import Logging
import ServiceLifecycle
import StrataObjectStore

/// Every `interval`: writes this replica's hits on the shared store, then runs the
/// bucket's janitor if no other replica's janitor holds its lease.
struct SharedJanitorService: Service {
    let janitor: SharedJanitor
    let interval: Duration
    let logger: Logger
    let now: @Sendable () -> Date

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: interval)
                await pass()
            }
        }
        // The hits counted since the last pass.
        try? await janitor.flush(now: now())
    }

    private func pass() async {
        do {
            try await janitor.flush(now: now())
            if let report = try await janitor.run(now: now()), report.removed > 0 {
                logger.info("shared store evicted", metadata: ["blobs": "\(report.removed)", "bytes": "\(report.removedBytes)", "idle": "\(report.idle)"])
            }
        } catch {
            logger.warning("shared store janitor failed", metadata: ["error": "\(error)"])
        }
    }
}
