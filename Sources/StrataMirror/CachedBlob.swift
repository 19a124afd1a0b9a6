import NIOCore
import StrataCore
import StrataStore

/// A verified blob in the local store, as the registry routes see it: its size, a
/// descriptor of its raw file for sendfile, or its bytes in chunks. The routes never
/// see the store's own types.
public struct CachedBlob: Sendable {
    let content: any StoredContent

    init(_ content: any StoredContent) {
        self.content = content
    }

    public var digest: Digest { content.blob.digest }
    public var size: Int64 { content.blob.size }

    /// A new descriptor of the file holding the blob's bytes as they are, which the
    /// caller owns and must close; nil when there is no such file (stored compressed,
    /// already read into memory and verified, or a store without files).
    public func duplicateRawDescriptor() -> Int32? {
        content.duplicateRawDescriptor()
    }

    /// Streams bytes `lower..<upper` to `body` (decompressed if need be).
    public func read(_ lower: Int64, _ upper: Int64, body: (ByteBuffer) async throws -> Void) async throws {
        try await content.read(lower, upper, body: body)
    }

    /// Streams bytes `lower..<upper` to `body` in groups of buffers to write in one go.
    public func readPieces(_ lower: Int64, _ upper: Int64, body: ([ByteBuffer]) async throws -> Void) async throws {
        try await content.readPieces(lower, upper, body: body)
    }
}
