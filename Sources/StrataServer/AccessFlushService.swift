import Logging
import ServiceLifecycle
import StrataMirror
import StrataStore

/// Writes the batched hit counts to the index every few seconds, and once more at shutdown.
struct AccessFlushService: Service {
    let recorder: AccessRecorder
    let interval: Duration
    let logger: Logger

    func run() async throws {
        let interval = self.interval
        let flushing = self
        // Graceful shutdown cancels the wait at once, then the last batch is written.
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: interval)
                flushing.flush()
            }
        }
        flush()
    }

    private func flush() {
        do { try recorder.flush() } catch { logger.error("cannot record cache hits", metadata: ["error": "\(error)"]) }
    }
}
