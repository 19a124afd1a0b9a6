import Foundation
import NIOCore
import StrataCore

/// A blob being written to a temp file, hashed as it goes.
///
/// One task owns a writer and feeds it in order; readers of the same fill read the
/// bytes already written through ``file`` at explicit offsets.
public final class BlobWriter: @unchecked Sendable {
    public let file: StoreFile
    /// Where bytes are hashed: by `append`'s caller, or on a lane of their own.
    private enum Hashing {
        case inline(ContentHasher)
        case lane(HashLane)
    }
    private let hashing: Hashing
    /// Bytes written so far. Only the owning task changes it.
    public private(set) var written: Int64 = 0

    init(path: String, algorithm: Digest.Algorithm, hashLane: Bool = false) throws(StoreError) {
        self.file = try StoreFile(path: path, flags: O_RDWR | O_CREAT | O_EXCL, mode: 0o600)
        self.hashing = hashLane ? .lane(HashLane(algorithm)) : .inline(ContentHasher(algorithm))
    }

    public var path: String { file.path }

    /// Appends bytes: writes them at the end of the temp file and hashes them.
    public func append(_ buffer: ByteBuffer) throws {
        guard buffer.readableBytes > 0 else { return }
        try buffer.withUnsafeReadableBytes { (bytes: UnsafeRawBufferPointer) throws in
            try file.write(bytes, at: written)
        }
        appendHashOnly(buffer)
    }

    /// Hashes and counts bytes without writing them (the disk is full: they pass through).
    public func appendHashOnly(_ buffer: ByteBuffer) {
        switch hashing {
        case .inline(let hasher): buffer.withUnsafeReadableBytes { hasher.update($0) }
        case .lane(let lane): lane.submit(buffer)
        }
        written += Int64(buffer.readableBytes)
    }

    /// Writes bytes at `offset` without hashing them: a part of a ranged fill, counted by `adopt`.
    public func write(_ buffer: ByteBuffer, at offset: Int64) throws {
        guard buffer.readableBytes > 0 else { return }
        try buffer.withUnsafeReadableBytes { (bytes: UnsafeRawBufferPointer) throws in
            try file.write(bytes, at: offset)
        }
    }

    /// Reads back what `write(_:at:)` put from `written` up to `end`, and hashes it in order.
    public func adopt(upTo end: Int64) throws {
        while written < end {
            let count = Int(min(end - written, 1 << 20))
            var buffer = ByteBufferAllocator().buffer(capacity: count)
            try file.read(at: written, count: count, into: &buffer)
            guard buffer.readableBytes == count else { throw StoreError.corrupt("a ranged part is shorter in the file than it was written") }
            appendHashOnly(buffer)
        }
    }

    /// With a hash lane: nil while its backlog has room, else a future for when it has.
    /// The writer's feeder waits on it before appending more.
    public func hashRoom(on eventLoop: any EventLoop) -> EventLoopFuture<Void>? {
        guard case .lane(let lane) = hashing else { return nil }
        return lane.room(on: eventLoop)
    }

    /// Finishes hashing and checks the result against what the blob must be.
    /// The writer must not be appended to afterwards.
    public func verify(expected: Digest, expectedSize: Int64?) async throws(StoreError) {
        let actual: Digest
        switch hashing {
        case .inline(let hasher): actual = hasher.finalize()
        case .lane(let lane): actual = await lane.finalize()
        }
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

extension BlobWriter: ContentSink {
    public func read(at offset: Int64, count: Int) throws -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: count)
        try file.read(at: offset, count: count, into: &buffer)
        return buffer
    }

    public func duplicateDescriptor() -> Int32? {
        let fd = dup(file.fd)
        return fd >= 0 ? fd : nil
    }
}
