import Logging
import ServiceLifecycle
import StrataMirror

/// Runs a ``CacheScrubber`` pass every `interval`, the first one `interval` after start.
struct ScrubService: Service {
    let scrubber: CacheScrubber
    let interval: Duration
    let logger: Logger

    func run() async throws {
        let scrubber = self.scrubber, interval = self.interval, logger = self.logger
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: interval)
                let report = try await scrubber.pass()
                logger.info("cache scrubbed", metadata: ["blobs": "\(report.blobs)", "bytes": "\(report.bytes)",
                                                         "quarantined": "\(report.quarantined.count)"])
            }
        }
    }
}
