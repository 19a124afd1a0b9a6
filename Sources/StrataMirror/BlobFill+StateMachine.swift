import NIOCore
import StrataCore
import StrataStore
import StrataUpstream

extension BlobFill {
    /// The life of one blob fill and of everyone waiting on it, without I/O.
    ///
    /// `connecting` → `streaming` (bytes arrive) → `committed` or `failed`; on a full disk
    /// `passThrough` → `passedThrough`. Readers ask how far they may read; the answer holds
    /// back the blob's last byte until the digest is verified, so a client never receives
    /// a complete body of bad bytes.
    ///
    /// Every event returns the waiters to wake (`Waiter` is a continuation in
    /// ``BlobFill``, a plain value in tests); the owner resumes them outside its lock.
    /// Waiting is asked of the machine too (`park…`), which decides under the same lock
    /// whether there is anything to wait for, so no event is missed.
    struct StateMachine<Waiter> {
        private enum Phase {
            case connecting
            case streaming(written: Int64, total: Int64?)
            /// The disk filled up: bytes `0..<fileBytes` are in the sink, the rest goes
            /// to the clients through memory and is not stored.
            case passThrough(fileBytes: Int64, written: Int64, total: Int64?)
            case committed(StoredBlob)
            /// A pass-through that ended with the digest verified: the clients may have
            /// every byte, nothing was stored.
            case passedThrough(fileBytes: Int64, size: Int64)
            case failed(FillError)
        }

        private var phase: Phase = .connecting
        /// Readers waiting, each until the fill has written `threshold` bytes (or any
        /// other event).
        private var readers: [(threshold: Int64, waiter: Waiter)] = []
        /// The leader, waiting for room in the memory window.
        private var leader: [Waiter] = []
        /// Clients holding a lease, with how far each has read.
        private var leases: [Int: Int64] = [:]
        private var nextLease = 0
        /// Pass-through: bytes after the sink's end, from offset `memoryBase` on.
        private var memory: [ByteBuffer] = []
        private var memoryBase: Int64 = 0
        private var memoryBytes = 0
        let memoryWindow: Int
        let readBatch: Int64

        /// Where the fill writes, and where it came from, once upstream answered.
        private(set) var sink: (any ContentSink)?
        private(set) var tier: TierName = .none
        private(set) var path: [String] = []
        private(set) var attempts: [TierAttempt] = []
        private(set) var notCachedReason: String?

        init(memoryWindow: Int = 32 << 20, readBatch: Int64 = 256 << 10) {
            self.memoryWindow = memoryWindow
            self.readBatch = readBatch
        }

        // MARK: Events from the leader

        /// Upstream answered with a body of `total` bytes (nil when it did not say).
        mutating func responseStarted(total: Int64?, sink: (any ContentSink)?, tier: TierName, path: [String]) -> [Waiter] {
            guard case .connecting = phase else { return [] }
            phase = .streaming(written: 0, total: total)
            self.sink = sink
            self.tier = tier
            self.path = path
            return wakeAllReaders()
        }

        /// Bytes up to `written` are in the sink: wakes the readers whose batch that completes.
        mutating func bytesWritten(_ written: Int64) -> [Waiter] {
            switch phase {
            case .streaming(_, let total): phase = .streaming(written: written, total: total)
            case .passThrough(let fileBytes, _, let total): phase = .passThrough(fileBytes: fileBytes, written: written, total: total)
            default: return []
            }
            var ready: [Waiter] = []
            readers.removeAll { reader in
                guard reader.threshold <= written else { return false }
                ready.append(reader.waiter)
                return true
            }
            return ready
        }

        /// The disk is full: what is in the sink stays readable, the rest passes through memory.
        mutating func diskFull() -> [Waiter] {
            guard case .streaming(let written, let total) = phase else { return [] }
            phase = .passThrough(fileBytes: written, written: written, total: total)
            memoryBase = written
            return wakeAllReaders()
        }

        var isPassThrough: Bool {
            if case .passThrough = phase { return true }
            return false
        }

        /// What the leader of a pass-through does with its next part.
        enum OfferAction {
            /// Kept in memory for the clients; wake these readers.
            case kept(wake: [Waiter])
            /// The window is full: wait (``parkLeader(_:bytes:)``) and offer it again.
            case wait
            /// No client is left to take it: stop.
            case stop
        }

        /// The leader offers a part of a pass-through; `written` counts it.
        mutating func offer(_ chunk: ByteBuffer, written: Int64) -> OfferAction {
            guard !leases.isEmpty else { return .stop }
            guard hasRoom(for: chunk.readableBytes) else { return .wait }
            memory.append(chunk)
            memoryBytes += chunk.readableBytes
            return .kept(wake: bytesWritten(written) + wakeAllReaders())
        }

        private func hasRoom(for bytes: Int) -> Bool {
            memoryBytes + bytes <= memoryWindow || memory.isEmpty
        }

        /// A pass-through ended with every byte verified; nothing was stored.
        mutating func passedThrough(attempts: [TierAttempt], reason: String) -> [Waiter] {
            switch phase {
            case .passThrough(let fileBytes, let written, _): phase = .passedThrough(fileBytes: fileBytes, size: written)
            case .streaming(let written, _): phase = .passedThrough(fileBytes: written, size: written)
            default: return []
            }
            self.attempts = attempts
            notCachedReason = reason
            return wakeAllReaders()
        }

        mutating func committed(_ blob: StoredBlob, attempts: [TierAttempt]) -> [Waiter] {
            guard !isTerminal else { return [] }
            phase = .committed(blob)
            self.attempts = attempts
            return wakeAllReaders()
        }

        mutating func failed(_ error: FillError, attempts: [TierAttempt]) -> [Waiter] {
            guard !isTerminal else { return [] }
            phase = .failed(error)
            self.attempts = attempts
            return wakeAllReaders()
        }

        var isTerminal: Bool {
            switch phase {
            case .committed, .passedThrough, .failed: true
            case .connecting, .streaming, .passThrough: false
            }
        }

        private mutating func wakeAllReaders() -> [Waiter] {
            defer { readers = [] }
            return readers.map(\.waiter)
        }

        // MARK: Leases

        /// A client that will read this fill: memory is kept until every lease has read
        /// it, and a pass-through with no lease left stops.
        mutating func addLease() -> Int {
            nextLease += 1
            leases[nextLease] = 0
            return nextLease
        }

        mutating func releaseLease(_ id: Int) -> [Waiter] {
            leases[id] = nil
            return trimMemory()
        }

        /// A lease read up to `end`: memory every lease has passed goes.
        mutating func advance(_ id: Int, to end: Int64) -> [Waiter] {
            guard leases[id] != nil else { return [] }
            leases[id] = end
            return trimMemory()
        }

        /// Drops memory parts every lease has read past; wakes the leader (it may have room now).
        private mutating func trimMemory() -> [Waiter] {
            let slowest = leases.values.min() ?? memoryBase
            while let first = memory.first, memoryBase + Int64(first.readableBytes) <= slowest {
                memoryBase += Int64(first.readableBytes)
                memoryBytes -= first.readableBytes
                memory.removeFirst()
            }
            defer { leader = [] }
            return leader
        }

        /// Bytes `range` of a pass-through out of memory (nil when they are gone), moving
        /// the lease past them.
        mutating func takeMemory(_ range: Range<Int64>, lease id: Int?) -> (ByteBuffer?, wake: [Waiter]) {
            guard range.lowerBound >= memoryBase else { return (nil, []) }
            var out = ByteBufferAllocator().buffer(capacity: Int(range.count))
            var position = memoryBase
            for piece in memory {
                let pieceEnd = position + Int64(piece.readableBytes)
                if pieceEnd > range.lowerBound && position < range.upperBound {
                    let from = Int(max(range.lowerBound, position) - position), to = Int(min(range.upperBound, pieceEnd) - position)
                    out.writeImmutableBuffer(piece.getSlice(at: piece.readerIndex + from, length: to - from) ?? ByteBuffer())
                }
                position = pieceEnd
                if position >= range.upperBound { break }
            }
            let wake = id.map { advance($0, to: range.upperBound) } ?? []
            return (out.readableBytes == range.count ? out : nil, wake)
        }

        // MARK: Readers

        /// What a reader at `offset` should do.
        enum ReadAction: Equatable {
            /// Bytes `offset..<limit` may be read now, from the sink.
            case read(limit: Int64)
            /// Bytes `offset..<limit` may be read now, from memory (pass-through).
            case readMemory(limit: Int64)
            /// Nothing new yet: wait for the next event.
            case wait
            /// The blob is complete and verified, and the reader has everything.
            case finished
            case fail(FillError)
        }

        /// `end` is where the reader's range stops (nil: the end of the blob). Until the
        /// digest is verified, the last byte a reader wants is held back, so neither a
        /// whole body nor a range of bad bytes is ever completed.
        func readAction(at offset: Int64, end: Int64? = nil) -> ReadAction {
            switch phase {
            case .connecting:
                return .wait
            case .streaming(let written, let total):
                let limit = Self.unverifiedLimit(written: written, total: total, end: end)
                return limit > offset ? .read(limit: limit) : .wait
            case .passThrough(let fileBytes, let written, let total):
                let limit = Self.unverifiedLimit(written: written, total: total, end: end)
                if offset < fileBytes { return .read(limit: min(fileBytes, limit)) }
                return limit > offset ? .readMemory(limit: limit) : .wait
            case .committed(let blob):
                return offset < blob.size ? .read(limit: blob.size) : .finished
            case .passedThrough(let fileBytes, let size):
                if offset < fileBytes { return .read(limit: fileBytes) }
                return offset < size ? .readMemory(limit: size) : .finished
            case .failed(let error):
                return .fail(error)
            }
        }

        /// How far a reader whose range ends at `end` may read before verification: with
        /// a known total all but the final byte; without one, all but the newest byte.
        static func unverifiedLimit(written: Int64, total: Int64?, end: Int64?) -> Int64 {
            var limit = total.map { min(written, $0 - 1) } ?? (written - 1)
            if let end { limit = min(limit, end - 1) }
            return limit
        }

        /// While the fill streams: how many bytes must be written before a reader at
        /// `offset` that may read up to `limit` should read; nil to read now. A reader
        /// that caught up waits for a batch rather than chasing the writer part by part.
        func batchThreshold(at offset: Int64, limit: Int64?) -> Int64? {
            guard case .streaming(_, let total) = phase else { return nil }
            var wanted = offset + readBatch
            if let total { wanted = min(wanted, total) }
            if let limit, limit >= wanted || (total.map { limit >= $0 - 1 } ?? false) { return nil }
            return wanted
        }

        /// What a client about to get a response needs: the size, once upstream said.
        enum StartAction: Equatable {
            case wait
            case started(total: Int64?)
            case fail(FillError)
        }

        func startAction() -> StartAction {
            switch phase {
            case .connecting: .wait
            case .streaming(_, let total), .passThrough(_, _, let total): .started(total: total)
            case .committed(let blob): .started(total: blob.size)
            case .passedThrough(_, let size): .started(total: size)
            case .failed(let error): .fail(error)
            }
        }

        /// How the fill ended, once it has.
        enum DoneAction: Equatable {
            case wait
            case committed(StoredBlob)
            case fail(FillError)
        }

        func doneAction() -> DoneAction {
            switch phase {
            case .committed(let blob): .committed(blob)
            case .failed(let error): .fail(error)
            case .passedThrough: .fail(FillError(.storage, notCachedReason ?? "not cached"))
            case .connecting, .streaming, .passThrough: .wait
            }
        }

        // MARK: Waiting

        /// Parks `waiter` until upstream answered; false (not parked) when it has.
        mutating func parkForStart(_ waiter: Waiter) -> Bool {
            guard startAction() == .wait else { return false }
            readers.append((0, waiter))
            return true
        }

        /// Parks `waiter` until the fill ends; false when it has.
        mutating func parkForDone(_ waiter: Waiter) -> Bool {
            guard doneAction() == .wait else { return false }
            readers.append((.max, waiter))
            return true
        }

        /// Parks a reader at `offset` with nothing to read until there is: the next batch,
        /// or, held at its range's last byte, verification. False when it may read now.
        mutating func parkForBytes(_ waiter: Waiter, at offset: Int64, end: Int64?) -> Bool {
            guard readAction(at: offset, end: end) == .wait else { return false }
            let heldAtEnd = end.map { offset >= $0 - 1 } ?? false
            readers.append((heldAtEnd ? .max : batchThreshold(at: offset, limit: nil) ?? 0, waiter))
            return true
        }

        /// Parks a reader that could read a little (up to `limit`) until a whole batch
        /// is there. False when it should read now.
        mutating func parkForBatch(_ waiter: Waiter, at offset: Int64, limit: Int64) -> Bool {
            guard let threshold = batchThreshold(at: offset, limit: limit) else { return false }
            readers.append((threshold, waiter))
            return true
        }

        /// Parks the leader until the window has room for `bytes` (or no lease is left).
        mutating func parkLeader(_ waiter: Waiter, bytes: Int) -> Bool {
            guard !hasRoom(for: bytes), !leases.isEmpty else { return false }
            leader.append(waiter)
            return true
        }
    }
}

extension BlobFill.StateMachine: Sendable where Waiter: Sendable {}

/// Why a fill ended without a committed blob.
public struct FillError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A struct over a private code, as ``UpstreamError/Kind``.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        private enum Code: String, Sendable {
            case notFound = "not_found", unavailable, refused, verification, storage
        }
        private let code: Code
        private init(_ code: Code) { self.code = code }

        /// Every tier said the blob does not exist.
        public static let notFound = Kind(.notFound)
        /// Tiers failed, and none delivered the blob.
        public static let unavailable = Kind(.unavailable)
        /// Tiers refused our credentials.
        public static let refused = Kind(.refused)
        /// The bytes did not match the digest or size: nothing was stored.
        public static let verification = Kind(.verification)
        /// The store could not write or read.
        public static let storage = Kind(.storage)

        public var description: String { code.rawValue }
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind): \(message)" }
}
