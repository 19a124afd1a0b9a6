import CZstd
import NIOConcurrencyHelpers
import NIOCore

/// Thin wrappers over libzstd's one-shot frame API.
enum Zstd {
    /// Compresses `input` into one independent frame appended to `output`.
    static func compressFrame(_ input: UnsafeRawBufferPointer, level: Int32, into output: inout [UInt8]) throws(StoreError) {
        let bound = ZSTD_compressBound(input.count)
        let start = output.count
        output.append(contentsOf: repeatElement(0, count: bound))
        let written = output.withUnsafeMutableBytes { out in
            ZSTD_compress(out.baseAddress! + start, bound, input.baseAddress, input.count, level)
        }
        guard ZSTD_isError(written) == 0 else {
            throw .corrupt("zstd compress: \(String(cString: ZSTD_getErrorName(written)))")
        }
        output.removeLast(bound - written)
    }

    /// Decompresses one frame whose uncompressed size is exactly `size` into `buffer`.
    static func decompressFrame(_ frame: ByteBuffer, size: Int, into buffer: inout ByteBuffer) throws(StoreError) {
        let result: Int = frame.withUnsafeReadableBytes { src in
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { dst in
                let r = withDecompressionContext { ZSTD_decompressDCtx($0, dst.baseAddress, size, src.baseAddress, src.count) }
                return ZSTD_isError(r) != 0 ? 0 : r
            }
        }
        guard result == size else { throw .corrupt("zstd frame decompressed to \(result) bytes, expected \(size)") }
    }

    /// Decompression contexts, kept for reuse: a fresh one per frame costs an allocation
    /// and its set-up on every 1 MiB read.
    private struct Contexts: @unchecked Sendable { var idle: [OpaquePointer] = [] }
    private static let contexts = NIOLockedValueBox(Contexts())

    private static func withDecompressionContext<T>(_ body: (OpaquePointer) -> T) -> T {
        let context = contexts.withLockedValue { $0.idle.popLast() } ?? ZSTD_createDCtx()
        defer {
            let kept = contexts.withLockedValue { pool -> Bool in
                guard pool.idle.count < 8 else { return false }
                pool.idle.append(context!)
                return true
            }
            if !kept { ZSTD_freeDCtx(context) }
        }
        return body(context!)
    }

    /// The compressed size of a sample, as a fraction of its size.
    static func ratio(ofSample sample: UnsafeRawBufferPointer, level: Int32) -> Double {
        guard sample.count > 0 else { return 1 }
        var out: [UInt8] = []
        do { try compressFrame(sample, level: level, into: &out) } catch { return 1 }
        return Double(out.count) / Double(sample.count)
    }
}
