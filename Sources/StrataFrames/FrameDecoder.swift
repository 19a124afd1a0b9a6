import CZstd
import StrataCore

/// Working memory for decompressing one frame at a time: a context and an input and
/// an output buffer, grown as needed. One user at a time.
public final class FrameScratch {
    let context: OpaquePointer
    public private(set) var input = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    public private(set) var output = UnsafeMutableRawBufferPointer(start: nil, count: 0)

    public init() {
        // ZSTD_createDCtx only fails when allocation fails.
        guard let context = ZSTD_createDCtx() else { fatalError("ZSTD_createDCtx failed: out of memory") }
        self.context = context
    }

    deinit {
        ZSTD_freeDCtx(context)
        input.deallocate()
        output.deallocate()
    }

    public func reserve(input inputCount: Int, output outputCount: Int) {
        if input.count < inputCount {
            input.deallocate()
            input = .allocate(byteCount: inputCount, alignment: 16)
        }
        if output.count < outputCount {
            output.deallocate()
            output = .allocate(byteCount: outputCount, alignment: 16)
        }
    }
}

/// Reading a blob stored as independent zstd frames (``FrameIndex``): where each frame
/// lies, checked against what zstd could have written, and the decode of one frame.
/// Every length here comes from files on disk (`frames.idx`, `data.zst`): a damaged or
/// hostile file fails the read with a ``Failure``, never the process.
public enum FrameDecoder {
    public struct Failure: Error, Sendable, CustomStringConvertible, Equatable {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// The most bytes zstd writes for a frame of `size` bytes (with its checksum).
    public static func largestFrame(holding size: Int) -> Int {
        ZSTD_compressBound(size) + 4
    }

    /// Where frame `frame` lies: its compressed bytes `offset..<offset+count` in
    /// `data.zst`, its uncompressed bytes `start..<start+length` of the blob.
    public struct Frame: Sendable, Equatable {
        public let offset: Int64
        public let count: Int
        public let start: Int64
        public let length: Int
    }

    public static func frame(_ frame: Int, of index: FrameIndex) throws(Failure) -> Frame {
        guard frame >= 0, frame < index.frameCount else { throw Failure("frame \(frame) of \(index.frameCount)") }
        let start = Int64(frame) * Int64(index.frameSize)
        let length = Int(min(Int64(index.frameSize), index.uncompressedSize - start))
        let offset = index.offsets[frame], end = index.offsets[frame + 1]
        // A damaged index could give one frame none of the file, or most of it (then the
        // reused scratch buffers would grow to it): a frame is what zstd can write.
        guard end > offset, length > 0, end - offset <= Int64(largestFrame(holding: length)) else {
            throw Failure("frame \(frame) is \(end - offset) bytes, which no zstd frame of \(length) bytes is")
        }
        return Frame(offset: offset, count: Int(end - offset), start: start, length: length)
    }

    /// Decompresses the frame in `scratch.input[0..<count]`, whose uncompressed size is
    /// exactly `size`, into `scratch.output`, block by block, and stops once its first
    /// `needed` bytes are out: a range that ends inside the frame does not pay for the
    /// rest of it (nor is the frame's checksum checked then). Returns the bytes written
    /// (`needed` of them, up to a block more).
    public static func decompress(_ scratch: FrameScratch, count: Int, size: Int, needed: Int) throws(Failure) -> UnsafeRawBufferPointer {
        guard count > 0, size > 0, needed >= 0, needed <= size, size <= scratch.output.count, count <= scratch.input.count,
              let input = scratch.input.baseAddress, let output = scratch.output.baseAddress else {
            throw Failure("zstd frame of \(count) compressed bytes for \(size) bytes does not fit its index")
        }
        let context = scratch.context
        let begun = ZSTD_decompressBegin(context)
        guard ZSTD_isError(begun) == 0 else { throw Failure("zstd: \(String(cString: ZSTD_getErrorName(begun)))") }
        var consumed = 0, written = 0
        while true {
            let next = ZSTD_nextSrcSizeToDecompress(context)
            if next == 0 {
                // The frame ended, checked to its end (its checksum too, when it has one);
                // the index gave its exact length.
                guard consumed == count else { throw Failure("zstd frame ends \(count - consumed) bytes before its index says") }
                break
            }
            if written >= needed, needed < size { break }  // a range that ends inside the frame
            guard next <= count - consumed else {
                throw Failure("zstd frame is truncated: \(count) bytes hold less than its \(size) bytes")
            }
            let status = ZSTD_decompressContinue(context, output + written, size - written, input + consumed, next)
            guard ZSTD_isError(status) == 0 else {
                throw Failure("zstd frame: \(String(cString: ZSTD_getErrorName(status)))")
            }
            consumed += next
            written += status
        }
        guard written >= needed, needed < size || written == size else {
            throw Failure("zstd frame decompressed to \(written) bytes, expected \(size)")
        }
        return UnsafeRawBufferPointer(start: output, count: written)
    }

    /// Bytes `lower..<upper` of a blob whose `data.zst` is `data`, read as the store
    /// reads it, frame by frame (for tests and the fuzz target; the store reads files).
    public static func read(_ lower: Int64, _ upper: Int64, of data: [UInt8], index: FrameIndex) throws(Failure) -> [UInt8] {
        guard lower >= 0, lower <= upper, upper <= index.uncompressedSize else { throw Failure("range \(lower)..<\(upper)") }
        guard Int64(data.count) == index.compressedSize else { throw Failure("data.zst is \(data.count) bytes, its index says \(index.compressedSize)") }
        var out: [UInt8] = []
        let scratch = FrameScratch()
        for n in index.frames(covering: lower, upper) {
            let frame = try frame(n, of: index)
            scratch.reserve(input: frame.count, output: frame.length)
            let from = Int(frame.offset)
            data.withUnsafeBytes { source in
                UnsafeMutableRawBufferPointer(rebasing: scratch.input[0..<frame.count])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: source[from..<from + frame.count]))
            }
            let end = Int(min(Int64(frame.length), upper - frame.start))
            let plain = try decompress(scratch, count: frame.count, size: frame.length, needed: end)
            let skip = Int(max(0, lower - frame.start))
            out += plain[skip..<end]
        }
        return out
    }
}
