import Foundation
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle
import StrataCore
import StrataMirror
import StrataStore

/// Runs the cache janitor every `interval`, and at once when a fill would take the
/// cache past `cache.max_size`.
final class EvictionService: Service, Sendable {
    let janitor: CacheJanitor
    let interval: Duration
    let logger: Logger
    private let wakeups: AsyncStream<Void>
    private let wakeContinuation: AsyncStream<Void>.Continuation

    private struct State {
        /// Bytes on disk as last counted, plus what was stored since.
        var estimate: Int64
        var pending = false
        var running = false
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state: NIOLockedValueBox<State>

    init(janitor: CacheJanitor, engine: MirrorEngine, disk: DiskContentStore, interval: Duration, logger: Logger) throws {
        self.janitor = janitor
        self.interval = interval
        self.logger = logger
        (wakeups, wakeContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        state = NIOLockedValueBox(State(estimate: try disk.index.storedBytes().stored))
        engine.observeStorage { [weak self] event in
            guard let self else { return }
            let over: Bool = self.state.withLockedValue { s in
                switch event {
                case .fillStarting(let bytes):
                    // The size is what an upstream announced: a blob larger than the whole
                    // bound cannot be kept anyway, and must not empty the cache to make room.
                    guard !janitor.isOverLimit(stored: bytes) else { return false }
                    return janitor.isOverLimit(stored: s.estimate.saturatingAdd(bytes))
                case .stored(let blob):
                    s.estimate = s.estimate.saturatingAdd(blob.storedSize)
                    return janitor.isOverLimit(stored: s.estimate)
                }
            }
            if over { self.wake() }
        }
    }

    private func wake() {
        state.withLockedValue { $0.pending = true }
        wakeContinuation.yield()
    }

    /// Returns once no eviction is running or asked for.
    func waitUntilIdle() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let idle = state.withLockedValue { s -> Bool in
                if !s.pending && !s.running { return true }
                s.idleWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }

    func run() async throws {
        let interval = self.interval
        let timer = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                self?.wake()
            }
        }
        defer { timer.cancel() }
        wake()
        await cancelWhenGracefulShutdown {
            for await _ in self.wakeups {
                self.state.withLockedValue { $0.pending = false; $0.running = true }
                do {
                    let report = try await self.janitor.run()
                    self.state.withLockedValue { $0.estimate = report.storedAfter }
                } catch {
                    self.logger.error("cache eviction failed", metadata: ["error": "\(error)"])
                }
                let waiters = self.state.withLockedValue { s -> [CheckedContinuation<Void, Never>] in
                    s.running = false
                    guard !s.pending else { return [] }
                    defer { s.idleWaiters = [] }
                    return s.idleWaiters
                }
                waiters.forEach { $0.resume() }
            }
        }
        let waiters = state.withLockedValue { s -> [CheckedContinuation<Void, Never>] in
            defer { s.idleWaiters = [] }
            return s.idleWaiters
        }
        waiters.forEach { $0.resume() }
    }
}
