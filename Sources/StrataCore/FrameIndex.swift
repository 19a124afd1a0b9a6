/// The index of a blob stored as independent zstd frames.
///
/// Frame `i` holds uncompressed bytes `i*frameSize ..< min((i+1)*frameSize, size)` and
/// sits at compressed offsets `offsets[i] ..< offsets[i+1]` in `data.zst`. A range read
/// decompresses only the frames it touches.
///
/// On disk (`frames.idx`, little-endian): `"STRZIDX1"`, frame size, uncompressed size,
/// frame count, then frame count + 1 offsets, all `UInt64`.
public struct FrameIndex: Sendable, Equatable {
    public static let magic = Array("STRZIDX1".utf8)

    public let frameSize: Int
    public let uncompressedSize: Int64
    public let offsets: [Int64]

    public init(frameSize: Int, uncompressedSize: Int64, offsets: [Int64]) {
        self.frameSize = frameSize
        self.uncompressedSize = uncompressedSize
        self.offsets = offsets
    }

    public var frameCount: Int { max(0, offsets.count - 1) }
    public var compressedSize: Int64 { offsets.last ?? 0 }

    /// The frames that cover uncompressed bytes `lower..<upper`.
    public func frames(covering lower: Int64, _ upper: Int64) -> Range<Int> {
        guard upper > lower else { return 0..<0 }
        let first = Int(lower / Int64(frameSize))
        let last = Int((upper - 1) / Int64(frameSize))
        return first..<min(last + 1, frameCount)
    }

    public func serialized() -> [UInt8] {
        var out = Self.magic
        func put(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        put(UInt64(frameSize))
        put(UInt64(uncompressedSize))
        put(UInt64(frameCount))
        for o in offsets { put(UInt64(o)) }
        return out
    }

    /// Why bytes are not a frame index.
    public struct Corrupt: Error, Sendable, CustomStringConvertible, Equatable {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    public init(parsing bytes: [UInt8]) throws(Corrupt) {
        guard bytes.count >= 32, Array(bytes[0..<8]) == Self.magic else { throw Corrupt("frame index header") }
        func get(_ i: Int) -> UInt64 {
            var v: UInt64 = 0
            for k in 0..<8 { v |= UInt64(bytes[i + k]) << (8 * UInt64(k)) }
            return v
        }
        let frameSize = get(8), size = get(16), count = get(24)
        // Every number is checked before arithmetic: the file may be damaged or hostile.
        let limit: UInt64 = 1 << 62
        guard frameSize > 0, frameSize <= 1 << 30, size <= limit, count < 1 << 32, bytes.count == 32 + Int(count + 1) * 8 else {
            throw Corrupt("frame index size")
        }
        var offsets: [Int64] = []
        offsets.reserveCapacity(Int(count) + 1)
        for i in 0...Int(count) {
            let offset = get(32 + i * 8)
            guard offset <= limit else { throw Corrupt("frame index offsets") }
            offsets.append(Int64(offset))
        }
        // Every frame holds at least its header: offsets rise strictly (equal ones would
        // make a frame of no bytes, a negative length one that ends before it starts).
        guard offsets.first == 0, zip(offsets, offsets.dropFirst()).allSatisfy({ $0 < $1 }),
              (size + frameSize - 1) / frameSize == count else { throw Corrupt("frame index offsets") }
        self.init(frameSize: Int(frameSize), uncompressedSize: Int64(size), offsets: offsets)
    }
}
