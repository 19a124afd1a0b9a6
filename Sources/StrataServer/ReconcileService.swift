import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle
import StrataStore

/// Brings the index and the blob files back into agreement (``Reconciler/sweep(now:)``)
/// once the ports are open, so that a cache of millions of blobs starts serving at once;
/// meanwhile a row without its file is found missing when asked for, and a file without
/// its row is still served.
struct ReconcileService: Service {
    let reconciler: Reconciler
    let done: Done
    let logger: Logger

    /// Whether the sweep has finished, and who waits for it.
    final class Done: Sendable {
        private let state = NIOLockedValueBox<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

        func finish() {
            let waiters = state.withLockedValue { s in
                s.done = true
                defer { s.waiters = [] }
                return s.waiters
            }
            waiters.forEach { $0.resume() }
        }

        func wait() async {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLockedValue { s in
                    if !s.done { s.waiters.append(continuation) }
                    return s.done
                }
                if now { continuation.resume() }
            }
        }
    }

    func run() async throws {
        let started = ContinuousClock.now
        do {
            let report = try await reconciler.sweep()
            if report != Reconciler.Report() {
                logger.notice("cache reconciled", metadata: ["report": "\(report)", "seconds": "\((ContinuousClock.now - started).inSeconds)"])
            }
        } catch {
            logger.error("cannot reconcile the cache index with its files", metadata: ["error": "\(error)"])
        }
        done.finish()
        // A service that returns ends the group: this one waits for the shutdown.
        try? await gracefulShutdown()
    }
}
