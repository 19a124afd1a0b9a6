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
        /// Readers waiting, each for the fill to have written at least `threshold` bytes
        /// (or for any other event).
        var waiters: [(threshold: Int64, continuation: CheckedContinuation<Void, Never>)] = []
        var sink: (any ContentSink)?
        var tier: TierName = .none
        var path: [String] = []
        var attempts: [TierAttempt] = []
        var notCached: String?
        /// Pass-through: bytes after the temp file's end, from offset `memoryBase` on.
        var memory: [ByteBuffer] = []
        var memoryBase: Int64 = 0
        var memoryBytes = 0
        /// Clients holding a lease on this fill, with how far each has read.
        var leases: [ObjectIdentifier: Int64] = [:]
        /// The leader, waiting for room in the memory window.
        var leaderWaiters: [CheckedContinuation<Void, Never>] = []

        mutating func takeWaiters() -> [CheckedContinuation<Void, Never>] {
            defer { waiters = [] }
            return waiters.map(\.continuation)
        }

        /// The waiters whose threshold `written` reaches.
        mutating func takeWaiters(written: Int64) -> [CheckedContinuation<Void, Never>] {
            var ready: [CheckedContinuation<Void, Never>] = []
            waiters.removeAll { waiter in
                guard waiter.threshold <= written else { return false }
                ready.append(waiter.continuation)
                return true
            }
            return ready
        }

        /// Drops memory chunks every lease has read past; wakes the leader if that made room.
        mutating func trimMemory() -> [CheckedContinuation<Void, Never>] {
            let slowest = leases.values.min() ?? memoryBase
            while let first = memory.first, memoryBase + Int64(first.readableBytes) <= slowest {
                memoryBase += Int64(first.readableBytes)
                memoryBytes -= first.readableBytes
                memory.removeFirst()
            }
            defer { leaderWaiters = [] }
            return leaderWaiters
        }
    }

    /// A client's hold on a fill, for pass-through: memory is kept until every lease has
    /// read it, and a pass-through with no lease left stops. Released when dropped.
    public final class Lease: Sendable {
        let fill: BlobFill
        init(_ fill: BlobFill) { self.fill = fill }
        deinit { fill.release(self) }
    }

    /// Most bytes a pass-through keeps in memory for its slowest client.
    static let memoryWindow = 32 << 20

    private let locked = NIOLockedValueBox(Locked())
    private let threadPool: NIOThreadPool

    init(digest: Digest, threadPool: NIOThreadPool) {
        self.digest = digest
        self.threadPool = threadPool
    }

    // MARK: Leases

    /// Registers a client that will read this fill.
    public func lease() -> Lease {
        let lease = Lease(self)
        locked.withLockedValue { $0.leases[ObjectIdentifier(lease)] = 0 }
        return lease
    }

    fileprivate func release(_ lease: Lease) {
        let waiters = locked.withLockedValue { s -> [CheckedContinuation<Void, Never>] in
            s.leases[ObjectIdentifier(lease)] = nil
            return s.trimMemory()
        }
        waiters.forEach { $0.resume() }
    }

    // MARK: Events from the leader

    func responseStarted(total: Int64?, sink: any ContentSink, tier: TierName, path: [String]) {
        let waiters = locked.withLockedValue { s -> [CheckedContinuation<Void, Never>] in
            s.sink = sink
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
            return s.takeWaiters(written: written)
        }
        waiters.forEach { $0.resume() }
    }

    /// Readers that caught up with the writer wait for this many new bytes (or the end)
    /// before reading again, so a fast client does not chase the writer chunk by chunk.
    static let readBatch: Int64 = 256 << 10

    /// While the fill streams to the temp file: how many bytes must be written before a
    /// reader at `offset` with `limit` available should read; nil to read now.
    private static func batchThreshold(_ state: StateMachine.State, offset: Int64, limit: Int64?) -> Int64? {
        guard case .streaming(_, let total) = state else { return nil }
        var wanted = offset + readBatch
        if let total { wanted = min(wanted, total) }
        if let limit, limit >= wanted || (total.map { limit >= $0 - 1 } ?? false) { return nil }
        return wanted
    }

    /// The disk is full: the fill goes on for the clients, through memory, unstored.
    func diskFull() {
        let waiters = locked.withLockedValue { s -> [CheckedContinuation<Void, Never>] in
            s.machine.diskFull()
            s.memoryBase = {
                if case .passThrough(let fileBytes, _, _) = s.machine.state { return fileBytes }
                return 0
            }()
            return s.takeWaiters()
        }
        waiters.forEach { $0.resume() }
    }

    var isPassThrough: Bool { locked.withLockedValue { $0.machine.isPassThrough } }

    /// Pass-through: adds bytes for the clients, waiting while the memory window is full.
    /// Returns false when no client is left to take them.
    func passThrough(_ chunk: ByteBuffer, written: Int64) async -> Bool {
        while true {
            let (room, anyone) = locked.withLockedValue { s in
                (s.memoryBytes + chunk.readableBytes <= Self.memoryWindow || s.memory.isEmpty, !s.leases.isEmpty)
            }
            guard anyone else { return false }
            if room { break }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = locked.withLockedValue { s -> Bool in
                    if s.memoryBytes + chunk.readableBytes <= Self.memoryWindow || s.leases.isEmpty { return true }
                    s.leaderWaiters.append(continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
        let waiters = locked.withLockedValue { s -> [CheckedContinuation<Void, Never>] in
            s.memory.append(chunk)
            s.memoryBytes += chunk.readableBytes
            s.machine.bytesWritten(written)
            return s.takeWaiters()
        }
        waiters.forEach { $0.resume() }
        return true
    }

    /// A pass-through ended with every byte verified; nothing was stored.
    func passedThrough(attempts: [TierAttempt], reason: String) {
        let waiters = locked.withLockedValue { s -> [CheckedContinuation<Void, Never>] in
            s.machine.passedThrough()
            s.attempts = attempts
            s.notCached = reason
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
    /// Where the fill writes, once upstream answered.
    var sink: (any ContentSink)? { locked.withLockedValue { $0.sink } }

    /// A new descriptor of the temp file (one file for the fill's whole life), for
    /// sending its regions with sendfile; the caller owns and closes it. nil before
    /// upstream answered, or when the store does not write to a file.
    public func duplicateTempFileDescriptor() -> Int32? {
        sink?.duplicateDescriptor()
    }
    /// Why the blob was served but not cached (`not cached: disk full`), if it was.
    public var notCachedReason: String? { locked.withLockedValue { $0.notCached } }
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
            case .passedThrough: throw FillError(.storage, "not cached: disk full")
            case .connecting, .streaming, .passThrough: await waitForEvent(threshold: .max) { !$0.machine.isTerminal }
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
        let id = lease.map(ObjectIdentifier.init)
        while upper.map({ offset < $0 }) ?? true {
            let (action, sink) = locked.withLockedValue { ($0.machine.readAction(at: offset, end: upper), $0.sink) }
            switch action {
            case .fail(let error):
                throw error
            case .finished:
                return
            case .wait:
                await waitForBytes(at: offset, upper: upper)
            case .readMemory(let limit):
                let end = min(limit, upper ?? limit, offset + Int64(min(chunkSize, 1 << 20)))
                try await body(.memory(try takeMemory(offset..<end, lease: id)))
                offset = end
            case .read(let limit):
                guard sink != nil else { throw FillError(.storage, "fill has no file") }
                if upper.map({ limit < $0 - 1 }) ?? true, await waitForBatch(at: offset, limit: limit, upper: upper) { continue }
                let end = min(limit, upper ?? limit, chunkSize == .max ? limit : offset + Int64(chunkSize))
                try await body(.file(from: offset, to: end))
                offset = end
                if let id { advance(id, to: end) }
            }
        }
    }

    /// Nothing to read at `offset` yet: waits for the next batch of bytes, or, for a
    /// reader held at its range's last byte, for verification.
    private func waitForBytes(at offset: Int64, upper: Int64?) async {
        let heldAtEnd = upper.map { offset >= $0 - 1 } ?? false
        let threshold = heldAtEnd ? .max
            : locked.withLockedValue { Self.batchThreshold($0.machine.state, offset: offset, limit: nil) } ?? 0
        await waitForEvent(threshold: threshold) { $0.machine.readAction(at: offset, end: upper) == .wait }
    }

    /// A reader that caught up with the writer waits for a batch rather than chasing it
    /// chunk by chunk. Returns whether it waited (the caller asks again).
    private func waitForBatch(at offset: Int64, limit: Int64, upper: Int64?) async -> Bool {
        guard let threshold = locked.withLockedValue({ Self.batchThreshold($0.machine.state, offset: offset, limit: limit) }) else {
            return false
        }
        await waitForEvent(threshold: threshold) { s in
            Self.batchThreshold(s.machine.state, offset: offset, limit: {
                if case .read(let l) = s.machine.readAction(at: offset, end: upper) { return l }
                return nil
            }()) != nil
        }
        return true
    }

    /// Copies bytes `range` of a pass-through out of memory, moving the lease past them
    /// (which may free room for the leader).
    private func takeMemory(_ range: Range<Int64>, lease id: ObjectIdentifier?) throws -> ByteBuffer {
        let (chunk, wake) = locked.withLockedValue { s -> (ByteBuffer?, [CheckedContinuation<Void, Never>]) in
            guard range.lowerBound >= s.memoryBase else { return (nil, []) }
            var out = ByteBufferAllocator().buffer(capacity: Int(range.count))
            var position = s.memoryBase
            for piece in s.memory {
                let pieceEnd = position + Int64(piece.readableBytes)
                if pieceEnd > range.lowerBound && position < range.upperBound {
                    let from = Int(max(range.lowerBound, position) - position), to = Int(min(range.upperBound, pieceEnd) - position)
                    out.writeImmutableBuffer(piece.getSlice(at: piece.readerIndex + from, length: to - from) ?? ByteBuffer())
                }
                position = pieceEnd
                if position >= range.upperBound { break }
            }
            if let id { s.leases[id] = range.upperBound }
            return (out, s.trimMemory())
        }
        wake.forEach { $0.resume() }
        guard let chunk, chunk.readableBytes == range.count else {
            // Joined too late: the bytes it needs were passed through and dropped.
            throw FillError(.storage, "not cached: disk full, and these bytes were already passed on")
        }
        return chunk
    }

    /// Moves a lease past bytes read from the file (which may free memory room).
    private func advance(_ id: ObjectIdentifier, to end: Int64) {
        let wake = locked.withLockedValue { s -> [CheckedContinuation<Void, Never>] in
            s.leases[id] = end
            return s.trimMemory()
        }
        wake.forEach { $0.resume() }
    }

    /// Suspends until the next event, unless `stillWaiting` already says otherwise.
    /// Checking under the same lock that events take means no event is missed.
    private func waitForEvent(threshold: Int64 = 0, _ stillWaiting: @escaping @Sendable (Locked) -> Bool) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = locked.withLockedValue { s -> Bool in
                guard stillWaiting(s) else { return true }
                s.waiters.append((threshold, continuation))
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }
}

