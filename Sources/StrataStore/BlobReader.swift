import NIOCore
import NIOPosix
import StrataCore
import StrataFrames

/// Reads a stored blob, raw or compressed, in chunks off the event loops.
public struct BlobReader: Sendable {
    private enum Source: Sendable {
        case raw(StoreFile)
        case frames(StoreFile, FrameIndex)
    }

    private let source: Source
    private let threadPool: NIOThreadPool
    public let blob: StoredBlob

    static func raw(_ blob: StoredBlob, file: StoreFile, threadPool: NIOThreadPool) -> Self {
        .init(source: .raw(file), threadPool: threadPool, blob: blob)
    }

    static func frames(_ blob: StoredBlob, file: StoreFile, index: FrameIndex, threadPool: NIOThreadPool) -> Self {
        .init(source: .frames(file, index), threadPool: threadPool, blob: blob)
    }

    /// The file holding the blob's bytes as they are, for sendfile; nil when the
    /// blob is stored compressed.
    public var rawFile: StoreFile? {
        if case .raw(let file) = source { return file }
        return nil
    }

    /// Streams bytes `lower..<upper` to `body`, in chunks of at most `chunkSize`.
    public func read(
        _ lower: Int64, _ upper: Int64, chunkSize: Int = 1 << 20,
        body: (ByteBuffer) async throws -> Void
    ) async throws {
        try await readPieces(lower, upper, chunkSize: chunkSize) { pieces in
            for piece in pieces { try await body(piece) }
        }
    }

    /// Streams bytes `lower..<upper` to `body` in groups of buffers: one chunk of at most
    /// `chunkSize` of a raw file, or a compressed frame's bytes in 64 KiB pieces, which
    /// a response writes in one go.
    public func readPieces(
        _ lower: Int64, _ upper: Int64, chunkSize: Int = 1 << 20,
        body: ([ByteBuffer]) async throws -> Void
    ) async throws {
        switch source {
        case .raw(let file):
            var offset = lower
            while offset < upper {
                let count = Int(min(Int64(chunkSize), upper - offset))
                let at = offset
                let buffer = try await threadPool.runIfActive { () throws -> ByteBuffer in
                    var buffer = ByteBufferAllocator().buffer(capacity: count)
                    try file.read(at: at, count: count, into: &buffer)
                    return buffer
                }
                guard buffer.readableBytes == count else { throw StoreError.corrupt("\(file.path) is shorter than \(blob.size) bytes") }
                try await body([buffer])
                offset += Int64(count)
            }
        case .frames(let file, let index):
            // Two frames are decompressed (one per thread of the pool) while the one
            // before them is being written.
            let frames = index.frames(covering: lower, upper)
            var ahead: [Task<[ByteBuffer], any Error>] = []
            var started = frames.lowerBound
            func startNext() {
                guard started < frames.upperBound else { return }
                let frame = started
                ahead.append(Task { try await decompress(frame, lower, upper, file, index) })
                started += 1
            }
            startNext()
            while !ahead.isEmpty {
                while ahead.count < Self.framesAhead + 1, started < frames.upperBound { startNext() }
                let current = ahead.removeFirst()
                do {
                    try await body(current.value)
                } catch {
                    for task in ahead { task.cancel() }
                    throw error
                }
            }
        }
    }

    /// Frames decompressed ahead of the one being written.
    static let framesAhead = 2

    /// Bytes `lower..<upper` of the blob that lie in `frame`, decompressed off the event
    /// loops (only as far as `upper`), in pieces small enough to come from the heap
    /// (larger buffers are mmapped, see `Serve.run`, and fault in every page).
    private func decompress(_ frame: Int, _ lower: Int64, _ upper: Int64, _ file: StoreFile, _ index: FrameIndex) async throws -> [ByteBuffer] {
        // Where the frame lies, checked against what zstd could have written (a damaged
        // index fails here, before the reused scratch buffers grow).
        let located: FrameDecoder.Frame
        do {
            located = try FrameDecoder.frame(frame, of: index)
        } catch {
            throw StoreError.corrupt("\(file.path): \(error)")
        }
        let frameStart = located.start, frameLength = located.length, from = located.offset, count = located.count
        let skip = Int(max(0, lower - frameStart)), end = Int(min(Int64(frameLength), upper - frameStart))
        return try await threadPool.runIfActive { () throws -> [ByteBuffer] in
            try Zstd.withScratch { scratch in
                scratch.reserve(input: count, output: frameLength)
                try file.read(at: from, into: UnsafeMutableRawBufferPointer(rebasing: scratch.input[0..<count]))
                let plain = try Zstd.decompressFrame(scratch, count: count, size: frameLength, needed: end)
                var pieces: [ByteBuffer] = []
                pieces.reserveCapacity((end - skip) / Self.pieceSize + 1)
                var at = skip
                while at < end {
                    let n = min(Self.pieceSize, end - at)
                    var piece = ByteBufferAllocator().buffer(capacity: n)
                    piece.writeBytes(UnsafeRawBufferPointer(rebasing: plain[at..<at + n]))
                    pieces.append(piece)
                    at += n
                }
                return pieces
            }
        }
    }

    static let pieceSize = 64 << 10

    /// Reads the whole blob into memory. For manifests and configs, not layers.
    public func readAll() async throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Int(blob.size))
        try await read(0, blob.size) { out.append(contentsOf: $0.readableBytesView) }
        return out
    }
}
