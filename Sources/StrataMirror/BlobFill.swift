import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import StrataCore
import StrataStore
import StrataUpstream

/// One blob being fetched from the tiers into the store, shared by every client that
/// asked for it while it runs (single-flight).
///
/// The leader task writes to a temp file; readers read that file at their own pace
/// through a shared descriptor, waiting when they catch up with the writer. A slow
/// reader never slows the fill, and memory stays flat whatever the blob size.
public final class BlobFill: Sendable {
    public let digest: Digest
    fileprivate struct Locked {
        var machine = StateMachine()
        var waiters: [CheckedContinuation<Void, Never>] = []
        var file: StoreFile?
        var tier: TierName = .none
        var path: [String] = []
        var attempts: [TierAttempt] = []

        mutating func takeWaiters() -> [CheckedContinuation<Void, Never>] {
            defer { waiters = [] }
            return waiters
        }
    }

    private let locked = NIOLockedValueBox(Locked())
    private let threadPool: NIOThreadPool

    init(digest: Digest, threadPool: NIOThreadPool) {
        self.digest = digest
        self.threadPool = threadPool
    }

    // MARK: Events from the leader

    func responseStarted(total: Int64?, file: StoreFile, tier: TierName, path: [String]) {
        let waiters = locked.withLockedValue { s -> [CheckedContinuation<Void, Never>] in
            s.file = file
            s.tier = tier
            s.path = path
            _ = s.machine.responseStarted(total: total)
            return s.takeWaiters()
        }
        waiters.forEach { $0.resume() }
    }

    func bytesWritten(_ written: Int64) {
        let waiters = locked.withLockedValue { s -> [CheckedContinuation<Void, Never>] in
            s.machine.bytesWritten(written)
            return s.takeWaiters()
        }
        waiters.forEach { $0.resume() }
    }

    func committed(_ blob: StoredBlob, attempts: [TierAttempt]) {
        let waiters = locked.withLockedValue { s -> [CheckedContinuation<Void, Never>] in
            s.machine.committed(blob)
            s.attempts = attempts
            return s.takeWaiters()
        }
        waiters.forEach { $0.resume() }
    }

    func failed(_ error: FillError, attempts: [TierAttempt]) {
        let waiters = locked.withLockedValue { s -> [CheckedContinuation<Void, Never>] in
            s.machine.failed(error)
            s.attempts = attempts
            return s.takeWaiters()
        }
        waiters.forEach { $0.resume() }
    }

    // MARK: Readers

    public var tier: TierName { locked.withLockedValue { $0.tier } }
    /// The tiers that served the fill, end to end.
    public var path: [String] { locked.withLockedValue { $0.path } }
    public var attempts: [TierAttempt] { locked.withLockedValue { $0.attempts } }

    /// Waits until upstream answered; returns the blob's size if known.
    public func waitForStart() async throws(FillError) -> Int64? {
        while true {
            let action = locked.withLockedValue { $0.machine.startAction() }
            switch action {
            case .started(let total): return total
            case .fail(let error): throw error
            case .wait: await waitForEvent { $0.machine.startAction() == .wait }
            }
        }
    }

    /// Waits until the fill ends: the stored blob, or why it failed.
    public func waitUntilDone() async throws(FillError) -> StoredBlob {
        while true {
            let state = locked.withLockedValue { $0.machine.state }
            switch state {
            case .committed(let blob): return blob
            case .failed(let error): throw error
            case .connecting, .streaming: await waitForEvent { !$0.machine.isTerminal }
            }
        }
    }

    /// Streams bytes `lower..<upper` (upper nil: to the end) to `body` as they arrive.
    /// Throws when the fill fails, including after some bytes were sent: the caller
    /// must cut the client off rather than finish the response.
    public func read(from lower: Int64, to upper: Int64?, chunkSize: Int = 1 << 20,
                     body: (ByteBuffer) async throws -> Void) async throws {
        var offset = lower
        while upper.map({ offset < $0 }) ?? true {
            let (action, file) = locked.withLockedValue { ($0.machine.readAction(at: offset), $0.file) }
            switch action {
            case .fail(let error):
                throw error
            case .finished:
                return
            case .wait:
                let at = offset
                await waitForEvent { $0.machine.readAction(at: at) == .wait }
            case .read(let limit):
                guard let file else { throw FillError(.storage, "fill has no file") }
                let end = min(limit, upper ?? limit, offset + Int64(chunkSize))
                let count = Int(end - offset)
                let at = offset
                let buffer = try await threadPool.runIfActive { () throws -> ByteBuffer in
                    var buffer = ByteBufferAllocator().buffer(capacity: count)
                    try file.read(at: at, count: count, into: &buffer)
                    return buffer
                }
                guard buffer.readableBytes == count else { throw FillError(.storage, "temp file shorter than written") }
                try await body(buffer)
                offset = end
            }
        }
    }

    /// Suspends until the next event, unless `stillWaiting` already says otherwise.
    /// Checking under the same lock that events take means no event is missed.
    private func waitForEvent(_ stillWaiting: @escaping @Sendable (Locked) -> Bool) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = locked.withLockedValue { s -> Bool in
                guard stillWaiting(s) else { return true }
                s.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }
}

