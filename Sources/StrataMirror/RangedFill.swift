import Foundation
import NIOConcurrencyHelpers
import NIOCore
import StrataCore
import StrataStore
import StrataUpstream

/// When a cold blob is fetched with several ranged `GET`s at once.
///
/// Registries and CDNs limit what one connection carries, so clients (containerd 2.1+)
/// split large layers into parallel ranges; a mirror that fetched on one connection
/// would be the slowest link.
public struct RangedFillSettings: Sendable, Equatable {
    /// A blob (what is left of it) at least this large is fetched in parts.
    public var threshold: Int64
    /// Ranged `GET`s at once; 1 turns parallel fills off.
    public var connections: Int
    /// A first connection at least this fast (bytes a second, judged on its first 2 MiB or
    /// 150 ms) carries the whole blob: more connections would only cost CPU (on a LAN,
    /// or on loopback, they are slower). 100 MiB/s.
    public var fastEnough: Double

    public init(threshold: Int64 = 64 << 20, connections: Int = 8, fastEnough: Double = 100 * 1024 * 1024) {
        self.threshold = threshold
        self.connections = connections
        self.fastEnough = fastEnough
    }
}

/// One tier, several ranged `GET`s of one blob at once: each part is written at its
/// offset in the fill's temp file as it arrives, and the front (the first part not yet
/// complete) is hashed in order and released to the fill's clients. Single-flight, the
/// held-back last byte and the verification are the fill's, unchanged.
///
/// A part whose body breaks after bytes came is asked again from where it broke, twice
/// at most; a part that still fails ends the run with its error, and the writer holds
/// the contiguous bytes up to the front (the fill goes on from there, in order).
struct RangedFill {
    let tier: UpstreamTier
    let repository: RepositoryName
    let digest: Digest
    let via: String?
    let writer: any ContentSink
    let fill: BlobFill
    let total: Int64
    let connections: Int
    /// See ``RangedFillSettings/fastEnough``.
    let fastEnough: Double
    /// Where hash-lane backpressure futures complete.
    let eventLoop: any EventLoop

    static let partRetries = 2
    /// Parts are not made smaller than this: a request per few MiB is plenty.
    static let minimumPart: Int64 = 4 << 20

    enum Outcome {
        /// Every byte is in the writer, hashed.
        case complete
        /// The disk filled up: the writer holds the bytes up to the front; the fill goes
        /// on in order, passing the rest through.
        case diskFull
    }

    /// How the first answer is judged: its first `probeBytes`, or what came in `probeTime`.
    static let probeBytes: Int64 = 2 << 20
    static let probeTime: Duration = .milliseconds(150)

    /// `first` is the answer already open from `writer.written` on. It carries the blob
    /// while it is judged; when it turns out slower than ``fastEnough``, the rest is split
    /// into parts fetched at once, and the first answer is let go at the end of its own
    /// (no request is wasted to learn the size).
    func run(first: UpstreamBlob) async throws(UpstreamError) -> Outcome {
        let progress = Progress(first: writer.written..<total)
        let (signals, signal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        do {
            return try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await self.fetch(index: 0, opened: first, progress: progress, signal: signal) }
                // A first answer that stalls is judged too.
                group.addTask {
                    try? await Task.sleep(for: Self.probeTime)
                    signal.yield()
                }
                defer { group.cancelAll() }
                let started = ContinuousClock.now
                var judged = false
                var front = 0
                for await _ in signals {
                    if !judged {
                        let elapsed = (ContinuousClock.now - started).inSeconds
                        let received = progress.received(0)
                        if received >= Self.probeBytes || elapsed >= Self.probeTime.inSeconds {
                            judged = true
                            if Double(received) / max(elapsed, 0.001) < fastEnough {
                                for (index, _) in progress.split(into: connections, minimumPart: Self.minimumPart) {
                                    group.addTask { await self.fetch(index: index, opened: nil, progress: progress, signal: signal) }
                                }
                            }
                        }
                    }
                    front = try await advance(from: front, progress: progress)
                    if front == progress.parts.count { return .complete }
                    switch progress.failure {
                    case .some(.diskFull): return .diskFull
                    case .some(.tier(let error)): throw error
                    case nil: continue
                    }
                }
                throw UpstreamError(.local, "the fill was stopped")
            }
        } catch let error as UpstreamError {
            throw error
        } catch {
            throw UpstreamError(.local, "ranged fill: \(error)")
        }
    }

    /// Hashes what arrived in order from the front on, and tells the clients. The first
    /// part appends (hashed as it comes, its clients told by its own task): the others
    /// are adopted once it is complete, so only its task touches the writer until then.
    private func advance(from front: Int, progress: Progress) async throws -> Int {
        var front = front
        let parts = progress.parts
        while front < parts.count {
            if front == 0 {
                guard progress.isComplete(0) else { break }
                front = 1
                continue
            }
            let reached = parts[front].lowerBound + progress.received(front)
            if reached > writer.written {
                do {
                    try writer.adopt(upTo: reached)
                } catch {
                    throw UpstreamError(.local, "store: \(error)")
                }
                fill.bytesWritten(writer.written)
                if let room = writer.hashRoom(on: eventLoop) { try await room.get() }
            }
            guard reached == parts[front].upperBound else { break }
            front += 1
        }
        return front
    }

    /// The part is complete: the rest of an open-ended answer is not wanted.
    struct PartComplete: Error {}

    /// One part, retried from where it broke; its failure is recorded, not thrown.
    private func fetch(index: Int, opened: UpstreamBlob?, progress: Progress, signal: AsyncStream<Void>.Continuation) async {
        var retries = 0
        var opened = opened
        defer { signal.yield() }
        // The first part may be cut shorter while it runs (when the rest is split): read its end afresh.
        var part: Range<Int64> { progress.part(index) }
        var length: Int64 { part.upperBound - part.lowerBound }
        while progress.received(index) < length, !Task.isCancelled {
            let before = progress.received(index)
            do {
                let upstream: UpstreamBlob
                if let open = opened {
                    upstream = open
                    opened = nil
                } else {
                    upstream = try await tier.client.getBlob(repository, digest, range: (part.lowerBound + before)..<part.upperBound, via: via)
                }
                if let size = upstream.totalSize, size != total {
                    upstream.body.cancel()
                    throw UpstreamError(.invalidResponse, "size \(size) differs from \(total)")
                }
                let writer = self.writer, fill = self.fill, eventLoop = upstream.body.eventLoop
                do {
                    try await upstream.body.stream { chunk throws -> EventLoopFuture<Void>? in
                        // Only the part's own bytes are kept; an answer that runs on is let go at its end.
                        guard let (at, keep) = progress.take(Int64(chunk.readableBytes), for: index) else { throw PartComplete() }
                        var room: EventLoopFuture<Void>? = nil
                        if keep > 0 {
                            let slice = chunk.getSlice(at: chunk.readerIndex, length: Int(keep))!
                            if index == 0 {
                                // The front: in order, hashed as it comes, as a single-connection fill is.
                                try writer.append(slice)
                                fill.bytesWritten(writer.written)
                                room = writer.hashRoom(on: eventLoop)
                            } else {
                                try writer.write(slice, at: at)
                            }
                            progress.add(keep, to: index)
                            signal.yield()
                        }
                        if keep < Int64(chunk.readableBytes) || progress.isComplete(index) { throw PartComplete() }
                        return room
                    }
                } catch is PartComplete {
                    upstream.body.cancel()
                }
                if progress.received(index) < length {
                    throw UpstreamError(.transport, "range \(part) ended after \(progress.received(index)) bytes")
                }
            } catch let error as StoreError where error.isDiskFull {
                progress.fail(.diskFull)
                return
            } catch {
                // Complete, whatever the stream made of the stop.
                if progress.received(index) == length { break }
                let failure = (error as? UpstreamError) ?? UpstreamError(.transport, "range \(part): \(error)")
                if failure.kind == .transport, progress.received(index) > before, retries < Self.partRetries {
                    retries += 1
                    continue
                }
                progress.fail(.tier(failure))
                return
            }
        }
    }

    /// The parts, what each received, and the first failure.
    final class Progress: Sendable {
        enum Failure {
            case tier(UpstreamError)
            case diskFull
        }
        private struct State {
            var parts: [Range<Int64>]
            var received: [Int64]
            var failure: Failure?
        }
        private let state: NIOLockedValueBox<State>

        /// One part, the whole of what is left, until ``split(into:minimumPart:)``.
        init(first: Range<Int64>) {
            state = NIOLockedValueBox(State(parts: [first], received: [0]))
        }

        var parts: [Range<Int64>] { state.withLockedValue { $0.parts } }
        func part(_ index: Int) -> Range<Int64> { state.withLockedValue { $0.parts[index] } }

        /// Cuts the first part a share past what it received, and splits the rest into
        /// parts of about the same size; returns the new parts. Nothing when too little is left.
        func split(into connections: Int, minimumPart: Int64) -> [(Int, Range<Int64>)] {
            state.withLockedValue { s in
                guard s.parts.count == 1 else { return [] }
                let reached = s.parts[0].lowerBound + s.received[0]
                let end = s.parts[0].upperBound
                let size = max(minimumPart, (end - reached + Int64(connections) - 1) / Int64(connections))
                guard end - reached > size else { return [] }
                s.parts[0] = s.parts[0].lowerBound..<(reached + size)
                var added: [(Int, Range<Int64>)] = []
                var lower = reached + size
                while lower < end {
                    let part = lower..<min(end, lower + size)
                    s.parts.append(part)
                    s.received.append(0)
                    added.append((s.parts.count - 1, part))
                    lower = part.upperBound
                }
                return added
            }
        }

        /// Where `count` more bytes of part `index` go, and how many of them belong to it;
        /// nil when the part is complete.
        func take(_ count: Int64, for index: Int) -> (at: Int64, keep: Int64)? {
            state.withLockedValue { s in
                let at = s.parts[index].lowerBound + s.received[index]
                guard at < s.parts[index].upperBound else { return nil }
                return (at, min(count, s.parts[index].upperBound - at))
            }
        }

        func isComplete(_ index: Int) -> Bool {
            state.withLockedValue { $0.parts[index].lowerBound + $0.received[index] >= $0.parts[index].upperBound }
        }

        func received(_ index: Int) -> Int64 { state.withLockedValue { $0.received[index] } }
        func add(_ count: Int64, to index: Int) { state.withLockedValue { $0.received[index] += count } }
        var failure: Failure? { state.withLockedValue { $0.failure } }
        func fail(_ failure: Failure) { state.withLockedValue { if $0.failure == nil { $0.failure = failure } } }
    }
}
