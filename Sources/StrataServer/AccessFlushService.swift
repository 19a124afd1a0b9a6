import Logging
import ServiceLifecycle
import StrataMirror

/// Writes the batched hit counts to the index every few seconds, and once more at shutdown.
struct AccessFlushService: Service {
    let recorder: AccessRecorder
    let interval: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: interval)
            flush()
        }
        flush()
    }

    private func flush() {
        do { try recorder.flush() } catch { logger.error("cannot record cache hits", metadata: ["error": "\(error)"]) }
    }
}
