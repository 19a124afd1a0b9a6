#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import StrataCore
import StrataStore

/// A verified blob in the local store, as the registry routes see it: its size, a
/// descriptor of its raw file for sendfile, or its bytes in chunks. The routes never
/// see the store's own types.
public struct CachedBlob: Sendable {
    let reader: BlobReader
    /// The whole blob, when it was small enough to be read and verified on lookup.
    let verifiedBytes: [UInt8]?

    init(reader: BlobReader, verifiedBytes: [UInt8]? = nil) {
        self.reader = reader
        self.verifiedBytes = verifiedBytes
    }

    public var digest: Digest { reader.blob.digest }
    public var size: Int64 { reader.blob.size }

    /// A new descriptor of the file holding the blob's bytes as they are, which the
    /// caller owns and must close; nil when the blob is stored compressed.
    public func duplicateRawDescriptor() -> Int32? {
        // Bytes already in memory and verified go out from there, not from the file again.
        guard verifiedBytes == nil, let file = reader.rawFile else { return nil }
        let fd = dup(file.fd)
        return fd >= 0 ? fd : nil
    }

    /// Streams bytes `lower..<upper` to `body` (decompressed if need be).
    public func read(_ lower: Int64, _ upper: Int64, body: (ByteBuffer) async throws -> Void) async throws {
        if let verifiedBytes {
            try await body(ByteBuffer(bytes: verifiedBytes[Int(lower)..<Int(upper)]))
            return
        }
        try await reader.read(lower, upper, body: body)
    }
}
