import CZstd
import NIOConcurrencyHelpers
import NIOCore

/// Working memory for decompressing one frame at a time: a context and an input and
/// an output buffer, grown as needed. One user at a time (see ``Zstd/withScratch(_:)``).
final class FrameScratch {
    let context: OpaquePointer
    private(set) var input = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    private(set) var output = UnsafeMutableRawBufferPointer(start: nil, count: 0)

    init() {
        // ZSTD_createDCtx only fails when allocation fails.
        guard let context = ZSTD_createDCtx() else { fatalError("ZSTD_createDCtx failed: out of memory") }
        self.context = context
    }

    deinit {
        ZSTD_freeDCtx(context)
        input.deallocate()
        output.deallocate()
    }

    func reserve(input inputCount: Int, output outputCount: Int) {
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

/// Compresses independent frames, each with a checksum of its content (XXH64, 4 bytes)
/// that decompression checks whenever it decodes a frame to its end. One user at a time:
/// a context is reused for every frame of a blob.
final class FrameCompressor {
    private let context: OpaquePointer

    init(level: Int32) {
        // ZSTD_createCCtx only fails when allocation fails.
        guard let context = ZSTD_createCCtx() else { fatalError("ZSTD_createCCtx failed: out of memory") }
        self.context = context
        ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1)
    }

    deinit {
        ZSTD_freeCCtx(context)
    }

    /// Compresses `input` into one independent frame appended to `output`.
    func compress(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) throws(StoreError) {
        let bound = ZSTD_compressBound(input.count)
        let start = output.count
        output.append(contentsOf: repeatElement(0, count: bound))
        let written = output.withUnsafeMutableBytes { out in
            ZSTD_compress2(context, out.baseAddress! + start, bound, input.baseAddress, input.count)
        }
        guard ZSTD_isError(written) == 0 else {
            output.removeLast(bound)
            throw .corrupt("zstd compress: \(String(cString: ZSTD_getErrorName(written)))")
        }
        output.removeLast(bound - written)
    }
}

/// Thin wrappers over libzstd's frame API.
enum Zstd {
    /// The most bytes zstd writes for a frame of `size` bytes (with its checksum).
    static func largestFrame(holding size: Int) -> Int {
        ZSTD_compressBound(size) + 4
    }

    /// Decompresses the frame in `scratch.input[0..<count]`, whose uncompressed size is
    /// exactly `size`, into `scratch.output`, block by block, and stops once its first
    /// `needed` bytes are out: a range that ends inside the frame does not pay for the
    /// rest of it (nor is the frame's checksum checked then). Returns the bytes written
    /// (`needed` of them, up to a block more).
    static func decompressFrame(_ scratch: FrameScratch, count: Int, size: Int, needed: Int) throws(StoreError) -> UnsafeRawBufferPointer {
        // The lengths come from frames.idx, a file on disk: checked, never trusted.
        guard count > 0, size > 0, needed <= size, size <= scratch.output.count, count <= scratch.input.count,
              let input = scratch.input.baseAddress, let output = scratch.output.baseAddress else {
            throw .corrupt("zstd frame of \(count) compressed bytes for \(size) bytes does not fit its index")
        }
        let context = scratch.context
        let begun = ZSTD_decompressBegin(context)
        guard ZSTD_isError(begun) == 0 else { throw .corrupt("zstd: \(String(cString: ZSTD_getErrorName(begun)))") }
        var consumed = 0, written = 0
        while true {
            let next = ZSTD_nextSrcSizeToDecompress(context)
            if next == 0 {
                // The frame ended, checked to its end (its checksum too, when it has one);
                // the index gave its exact length.
                guard consumed == count else { throw .corrupt("zstd frame ends \(count - consumed) bytes before its index says") }
                break
            }
            if written >= needed, needed < size { break }  // a range that ends inside the frame
            guard next <= count - consumed else {
                throw .corrupt("zstd frame is truncated: \(count) bytes hold less than its \(size) bytes")
            }
            let status = ZSTD_decompressContinue(context, output + written, size - written, input + consumed, next)
            guard ZSTD_isError(status) == 0 else {
                throw .corrupt("zstd frame: \(String(cString: ZSTD_getErrorName(status)))")
            }
            consumed += next
            written += status
        }
        guard written >= needed, needed < size || written == size else {
            throw .corrupt("zstd frame decompressed to \(written) bytes, expected \(size)")
        }
        return UnsafeRawBufferPointer(start: output, count: written)
    }

    /// Scratch kept for reuse: a fresh context and fresh buffers per frame cost
    /// allocations and page faults on every 1 MiB read.
    private struct Pool: @unchecked Sendable { var idle: [FrameScratch] = [] }
    private static let pool = NIOLockedValueBox(Pool())

    static func withScratch<T>(_ body: (FrameScratch) throws -> T) rethrows -> T {
        let scratch = pool.withLockedValue { $0.idle.popLast() } ?? FrameScratch()
        defer { pool.withLockedValue { if $0.idle.count < 8 { $0.idle.append(scratch) } } }
        return try body(scratch)
    }

    /// The compressed size of a sample, as a fraction of its size.
    static func ratio(ofSample sample: UnsafeRawBufferPointer, level: Int32) -> Double {
        guard sample.count > 0 else { return 1 }
        var out: [UInt8] = []
        do { try FrameCompressor(level: level).compress(sample, into: &out) } catch { return 1 }
        return Double(out.count) / Double(sample.count)
    }
}
