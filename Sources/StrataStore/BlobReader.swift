import NIOCore
import NIOPosix
import StrataCore

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
                try await body(buffer)
                offset += Int64(count)
            }
        case .frames(let file, let index):
            // One frame is decompressed while the one before it is being written.
            let frames = index.frames(covering: lower, upper)
            var next: Task<[ByteBuffer], any Error>? = frames.isEmpty ? nil : Task { try await decompress(frames.lowerBound, lower, upper, file, index) }
            for frame in frames {
                guard let current = next else { break }
                next = frame + 1 < frames.upperBound ? Task { try await decompress(frame + 1, lower, upper, file, index) } : nil
                do {
                    for piece in try await current.value { try await body(piece) }
                } catch {
                    next?.cancel()
                    throw error
                }
            }
        }
    }

    /// Bytes `lower..<upper` of the blob that lie in `frame`, decompressed off the event
    /// loops, in pieces small enough to come from the heap (glibc mmaps 128 KiB and up).
    private func decompress(_ frame: Int, _ lower: Int64, _ upper: Int64, _ file: StoreFile, _ index: FrameIndex) async throws -> [ByteBuffer] {
        let frameStart = Int64(frame) * Int64(index.frameSize)
        let frameLength = Int(min(Int64(index.frameSize), index.uncompressedSize - frameStart))
        let from = index.offsets[frame], count = Int(index.offsets[frame + 1] - from)
        let skip = Int(max(0, lower - frameStart)), end = Int(min(Int64(frameLength), upper - frameStart))
        return try await threadPool.runIfActive { () throws -> [ByteBuffer] in
            try Zstd.withScratch { scratch in
                scratch.reserve(input: count, output: frameLength)
                try file.read(at: from, into: UnsafeMutableRawBufferPointer(rebasing: scratch.input[0..<count]))
                let plain = try Zstd.decompressFrame(scratch, count: count, size: frameLength)
                var pieces: [ByteBuffer] = []
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
