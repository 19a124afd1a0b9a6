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

    public init(threshold: Int64 = 64 << 20, connections: Int = 8) {
        self.threshold = threshold
        self.connections = connections
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

    /// `first` is the answer already open from `writer.written` on: it carries the first
    /// part, and is let go at that part's end (no request is wasted to learn the size).
    func run(first: UpstreamBlob) async throws(UpstreamError) -> Outcome {
        let start = writer.written
        let partSize = max(Self.minimumPart, (total - start + Int64(connections) - 1) / Int64(connections))
        var parts: [Range<Int64>] = []
        var lower = start
        while lower < total {
            parts.append(lower..<min(total, lower + partSize))
            lower += partSize
        }
        let progress = Progress(parts: parts.count)
        let (signals, signal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        do {
            return try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, part) in parts.enumerated() {
                    let open = index == 0 ? first : nil
                    group.addTask { await self.fetch(part, index: index, opened: open, progress: progress, signal: signal) }
                }
                defer { group.cancelAll() }
                var front = 0
                for await _ in signals {
                    front = try await advance(from: front, parts: parts, progress: progress)
                    if writer.written == total { return .complete }
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

    /// Hashes what arrived in order from the front on, and tells the clients.
    private func advance(from front: Int, parts: [Range<Int64>], progress: Progress) async throws -> Int {
        var front = front
        while front < parts.count {
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
    private func fetch(
        _ part: Range<Int64>, index: Int, opened: UpstreamBlob?, progress: Progress, signal: AsyncStream<Void>.Continuation
    ) async {
        var retries = 0
        var opened = opened
        defer { signal.yield() }
        let length = part.upperBound - part.lowerBound
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
                let writer = self.writer
                do {
                    try await upstream.body.stream { chunk throws -> EventLoopFuture<Void>? in
                        let at = part.lowerBound + progress.received(index)
                        // Only the part's own bytes are kept; an answer that runs on is let go at its end.
                        let keep = Int(min(Int64(chunk.readableBytes), part.upperBound - at))
                        if keep > 0 {
                            try writer.write(chunk.getSlice(at: chunk.readerIndex, length: keep)!, at: at)
                            progress.add(Int64(keep), to: index)
                            signal.yield()
                        }
                        if at + Int64(keep) == part.upperBound { throw PartComplete() }
                        return nil
                    }
                } catch is PartComplete {
                    upstream.body.cancel()
                }
                if progress.received(index) < length {
                    throw UpstreamError(.transport, "range \(part) ended after \(progress.received(index)) bytes")
                }
            } catch is PartComplete {
                continue
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

    /// What each part received, and the first failure.
    final class Progress: Sendable {
        enum Failure {
            case tier(UpstreamError)
            case diskFull
        }
        private struct State {
            var received: [Int64]
            var failure: Failure?
        }
        private let state: NIOLockedValueBox<State>

        init(parts: Int) {
            state = NIOLockedValueBox(State(received: Array(repeating: 0, count: parts)))
        }

        func received(_ index: Int) -> Int64 { state.withLockedValue { $0.received[index] } }
        func add(_ count: Int64, to index: Int) { state.withLockedValue { $0.received[index] += count } }
        var failure: Failure? { state.withLockedValue { $0.failure } }
        func fail(_ failure: Failure) { state.withLockedValue { if $0.failure == nil { $0.failure = failure } } }
    }
}
