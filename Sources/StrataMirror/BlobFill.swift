import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import StrataCore
import StrataStore
import StrataUpstream

/// One blob being fetched from the tiers into the store, shared by every client that
/// asked for it while it runs (single-flight).
///
/// The leader task writes to the store's sink (a temp file on disk); readers read it
/// at their own pace, waiting when they catch up with the writer. A slow reader never
/// slows the fill, and memory stays flat whatever the blob size. What happens on each
/// event is decided by ``StateMachine``; this class holds it under a lock, performs
/// the I/O and resumes whom the machine says to wake.
public final class BlobFill: Sendable {
    public let digest: Digest
    typealias Machine = StateMachine<CheckedContinuation<Void, Never>>

    /// A client's hold on a fill, for pass-through: memory is kept until every lease has
    /// read it, and a pass-through with no lease left stops. Released when dropped.
    public final class Lease: Sendable {
        let fill: BlobFill
        let id: Int
        init(_ fill: BlobFill, id: Int) {
            self.fill = fill
            self.id = id
        }
        deinit { fill.perform { $0.releaseLease(id) } }
    }

    private let locked = NIOLockedValueBox(Machine())
    private let threadPool: NIOThreadPool

    init(digest: Digest, threadPool: NIOThreadPool) {
        self.digest = digest
        self.threadPool = threadPool
    }

    /// Applies an event under the lock, then resumes whom it wakes.
    private func perform(_ event: (inout Machine) -> [CheckedContinuation<Void, Never>]) {
        locked.withLockedValue(event).forEach { $0.resume() }
    }

    /// Suspends until woken, unless `park` says there is nothing to wait for. Deciding
    /// under the same lock that events take means no event is missed.
    private func park(_ park: @escaping (inout Machine, CheckedContinuation<Void, Never>) -> Bool) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            if !locked.withLockedValue({ park(&$0, continuation) }) { continuation.resume() }
        }
    }

    /// Registers a client that will read this fill.
    public func lease() -> Lease {
        Lease(self, id: locked.withLockedValue { $0.addLease() })
    }

    // MARK: Events from the leader

    func responseStarted(total: Int64?, sink: any ContentSink, tier: TierName, path: [String]) {
        perform { $0.responseStarted(total: total, sink: sink, tier: tier, path: path) }
    }

    func bytesWritten(_ written: Int64) {
        perform { $0.bytesWritten(written) }
    }

    /// The disk is full: the fill goes on for the clients, through memory, unstored.
    func diskFull() {
        perform { $0.diskFull() }
    }

    var isPassThrough: Bool { locked.withLockedValue { $0.isPassThrough } }

    /// Pass-through: adds bytes for the clients, waiting while the memory window is full.
    /// Returns false when no client is left to take them.
    func passThrough(_ chunk: ByteBuffer, written: Int64) async -> Bool {
        while true {
            switch locked.withLockedValue({ $0.offer(chunk, written: written) }) {
            case .kept(let wake):
                wake.forEach { $0.resume() }
                return true
            case .stop:
                return false
            case .wait:
                await park { $0.parkLeader($1, bytes: chunk.readableBytes) }
            }
        }
    }

    /// A pass-through ended with every byte verified; nothing was stored.
    func passedThrough(attempts: [TierAttempt], reason: String) {
        perform { $0.passedThrough(attempts: attempts, reason: reason) }
    }

    func committed(_ blob: StoredBlob, attempts: [TierAttempt]) {
        perform { $0.committed(blob, attempts: attempts) }
    }

    func failed(_ error: FillError, attempts: [TierAttempt]) {
        perform { $0.failed(error, attempts: attempts) }
    }

    // MARK: Readers

    public var tier: TierName { locked.withLockedValue { $0.tier } }
    /// Where the fill writes, once upstream answered.
    var sink: (any ContentSink)? { locked.withLockedValue { $0.sink } }

    /// A new descriptor of the temp file (one file for the fill's whole life), for
    /// sending its regions with sendfile; the caller owns and closes it. nil before
    /// upstream answered, or when the store does not write to a file.
    public func duplicateTempFileDescriptor() -> Int32? {
        sink?.duplicateDescriptor()
    }
    /// Why the blob was served but not cached (`not cached: disk full`), if it was.
    public var notCachedReason: String? { locked.withLockedValue { $0.notCachedReason } }
    /// The tiers that served the fill, end to end.
    public var path: [String] { locked.withLockedValue { $0.path } }
    public var attempts: [TierAttempt] { locked.withLockedValue { $0.attempts } }

    /// Waits until upstream answered; returns the blob's size if known.
    public func waitForStart() async throws(FillError) -> Int64? {
        while true {
            switch locked.withLockedValue({ $0.startAction() }) {
            case .started(let total): return total
            case .fail(let error): throw error
            case .wait: await park { $0.parkForStart($1) }
            }
        }
    }

    /// Waits until the fill ends: the stored blob, or why it failed.
    public func waitUntilDone() async throws(FillError) -> StoredBlob {
        while true {
            switch locked.withLockedValue({ $0.doneAction() }) {
            case .committed(let blob): return blob
            case .fail(let error): throw error
            case .wait: await park { $0.parkForDone($1) }
            }
        }
    }

    /// Streams bytes `lower..<upper` (upper nil: to the end) to `body` as they arrive.
    /// Throws when the fill fails, including after some bytes were sent: the caller
    /// must cut the client off rather than finish the response.
    public func read(from lower: Int64, to upper: Int64?, lease: Lease? = nil, chunkSize: Int = 1 << 20,
                     body: (ByteBuffer) async throws -> Void) async throws {
        try await follow(from: lower, to: upper, lease: lease, chunkSize: chunkSize) { piece in
            switch piece {
            case .memory(let chunk):
                try await body(chunk)
            case .file(let from, let to):
                guard let sink else { throw FillError(.storage, "fill has no file") }
                let count = Int(to - from)
                let buffer = try await threadPool.runIfActive { try sink.read(at: from, count: count) }
                guard buffer.readableBytes == count else { throw FillError(.storage, "temp file shorter than written") }
                try await body(buffer)
            }
        }
    }

    /// A stretch of the blob a reader may send now.
    public enum Piece {
        /// Bytes `from..<to` of the temp file (raw, written, and not the held-back last
        /// byte): read them, or send them from ``duplicateTempFileDescriptor()``.
        case file(from: Int64, to: Int64)
        /// Bytes passed through memory (the disk is full).
        case memory(ByteBuffer)
    }

    /// Follows the fill from `lower` to `upper` (nil: the end), handing `body` each
    /// stretch as it becomes readable, at most `chunkSize` bytes at a time. `body` gets
    /// the temp file and offsets, not bytes: it may read them or have them sent with
    /// sendfile. Throws like ``read(from:to:lease:chunkSize:body:)``.
    public func follow(from lower: Int64, to upper: Int64?, lease: Lease? = nil, chunkSize: Int = .max,
                       body: (Piece) async throws -> Void) async throws {
        var offset = lower
        while upper.map({ offset < $0 }) ?? true {
            let (action, hasSink) = locked.withLockedValue { ($0.readAction(at: offset, end: upper), $0.sink != nil) }
            switch action {
            case .fail(let error):
                throw error
            case .finished:
                return
            case .wait:
                await park { $0.parkForBytes($1, at: offset, end: upper) }
            case .readMemory(let limit):
                let end = min(limit, upper ?? limit, offset + Int64(min(chunkSize, 1 << 20)))
                try await body(.memory(try takeMemory(offset..<end, lease: lease)))
                offset = end
            case .read(let limit):
                guard hasSink else { throw FillError(.storage, "fill has no file") }
                // Caught up with the writer: wait for a batch rather than chase it part by part.
                if upper.map({ limit < $0 - 1 }) ?? true, await waitedForBatch(at: offset, limit: limit) { continue }
                let end = min(limit, upper ?? limit, chunkSize == .max ? limit : offset + Int64(chunkSize))
                try await body(.file(from: offset, to: end))
                offset = end
                if let lease { perform { $0.advance(lease.id, to: end) } }
            }
        }
    }

    /// Returns whether it waited (the caller asks again).
    private func waitedForBatch(at offset: Int64, limit: Int64) async -> Bool {
        guard locked.withLockedValue({ $0.batchThreshold(at: offset, limit: limit) }) != nil else { return false }
        await park { $0.parkForBatch($1, at: offset, limit: limit) }
        return true
    }

    /// Copies bytes `range` of a pass-through out of memory, moving the lease past them
    /// (which may free room for the leader).
    private func takeMemory(_ range: Range<Int64>, lease: Lease?) throws -> ByteBuffer {
        let (chunk, wake) = locked.withLockedValue { $0.takeMemory(range, lease: lease?.id) }
        wake.forEach { $0.resume() }
        guard let chunk else {
            // Joined too late: the bytes it needs were passed through and dropped.
            throw FillError(.storage, "not cached: disk full, and these bytes were already passed on")
        }
        return chunk
    }
}
