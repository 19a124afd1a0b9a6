import Dispatch
import NIOConcurrencyHelpers
import NIOCore
import StrataCore

/// Hashes a blob's bytes on a lane of its own, behind the thread that writes them.
///
/// A fill's receiving thread would otherwise write and hash every byte in turn; SHA-256
/// is the slowest of its steps (about 2 GB/s here), so it runs beside the write instead.
/// Buffers are queued by reference, not copied. The backlog is bounded: past
/// ``highWater`` bytes the writer is told to wait until it drops to ``lowWater``.
final class HashLane: @unchecked Sendable {
    static let highWater = 16 << 20
    static let lowWater = 4 << 20

    private let hasher: ContentHasher
    private let queue = DispatchQueue(label: "strata.hash")
    private struct Backlog {
        var bytes = 0
        var waiters: [EventLoopPromise<Void>] = []
    }
    private let backlog = NIOLockedValueBox(Backlog())

    init(_ algorithm: Digest.Algorithm) {
        hasher = ContentHasher(algorithm)
    }

    func submit(_ buffer: ByteBuffer) {
        let count = buffer.readableBytes
        guard count > 0 else { return }
        backlog.withLockedValue { $0.bytes += count }
        queue.async {
            buffer.withUnsafeReadableBytes { self.hasher.update($0) }
            self.hashed(count)
        }
    }

    private func hashed(_ count: Int) {
        let ready = backlog.withLockedValue { b -> [EventLoopPromise<Void>] in
            b.bytes -= count
            guard b.bytes <= Self.lowWater else { return [] }
            defer { b.waiters = [] }
            return b.waiters
        }
        ready.forEach { $0.succeed() }
    }

    /// nil while the backlog has room; else a future that completes once it has.
    func room(on eventLoop: any EventLoop) -> EventLoopFuture<Void>? {
        backlog.withLockedValue { b -> EventLoopFuture<Void>? in
            guard b.bytes > Self.highWater else { return nil }
            let promise = eventLoop.makePromise(of: Void.self)
            b.waiters.append(promise)
            return promise.futureResult
        }
    }

    /// Waits for every queued byte, then finishes the hash.
    func finalize() async -> Digest {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: self.hasher.finalize()) }
        }
    }
}
