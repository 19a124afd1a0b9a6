import CZstd
import NIOConcurrencyHelpers
import NIOCore
import StrataFrames

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
    /// Decompresses one frame (``FrameDecoder/decompress(_:count:size:needed:)``), its
    /// failure as the store's.
    static func decompressFrame(_ scratch: FrameScratch, count: Int, size: Int, needed: Int) throws(StoreError) -> UnsafeRawBufferPointer {
        do {
            return try FrameDecoder.decompress(scratch, count: count, size: size, needed: needed)
        } catch {
            throw .corrupt(error.description)
        }
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
