import Foundation
import NIOCore
import StrataCore

/// A blob being written to a temp file, hashed as it goes.
///
/// One task owns a writer and feeds it in order; readers of the same fill read the
/// bytes already written through ``file`` at explicit offsets.
public final class BlobWriter: @unchecked Sendable {
    public let file: StoreFile
    private let hasher: ContentHasher
    /// Bytes written so far. Only the owning task changes it.
    public private(set) var written: Int64 = 0
    /// Bytes whose writeback to disk has been started.
    private var writebackStarted: Int64 = 0
    /// Writeback starts every this many bytes, so the sync before the blob is installed
    /// waits for the tail only, not for the whole blob.
    static let writebackStep: Int64 = 8 << 20

    init(path: String, algorithm: Digest.Algorithm) throws(StoreError) {
        self.file = try StoreFile(path: path, flags: O_RDWR | O_CREAT | O_EXCL, mode: 0o600)
        self.hasher = ContentHasher(algorithm)
    }

    public var path: String { file.path }

    /// Appends bytes: writes them at the end of the temp file and hashes them.
    public func append(_ buffer: ByteBuffer) throws {
        let count = buffer.readableBytes
        guard count > 0 else { return }
        try buffer.withUnsafeReadableBytes { (bytes: UnsafeRawBufferPointer) throws in
            try file.write(bytes, at: written)
            hasher.update(bytes)
        }
        written += Int64(count)
        if written - writebackStarted >= Self.writebackStep {
            file.startWriteback(at: writebackStarted, count: written - writebackStarted)
            writebackStarted = written
        }
    }

    /// Hashes and counts bytes without writing them (the disk is full: they pass through).
    public func appendHashOnly(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { hasher.update($0) }
        written += Int64(buffer.readableBytes)
    }

    /// Finishes hashing and checks the result against what the blob must be.
    /// The writer must not be appended to afterwards.
    public func verify(expected: Digest, expectedSize: Int64?) throws(StoreError) {
        let actual = hasher.finalize()
        if let expectedSize, expectedSize != written {
            throw .sizeMismatch(expected: expectedSize, actual: written)
        }
        guard actual == expected else { throw .digestMismatch(expected: expected, actual: actual) }
    }

    /// Removes the temp file. Readers that still hold the descriptor keep reading.
    public func discard() {
        unlink(file.path)
    }
}
