import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import StrataCore

/// The content-addressed blob store on local disk.
///
/// Writes go to a temp file, are hashed while written, verified for digest and size,
/// fsynced, optionally recompressed into zstd frames, and made visible with one atomic
/// rename of the blob's directory (see ``StoreLayout``). Nothing unverified is visible.
public final class BlobStore: Sendable {
    public let layout: StoreLayout
    let threadPool: NIOThreadPool
    /// Uncompressed bytes per zstd frame.
    public let frameSize: Int
    /// Store compressed only when a sample compresses to at most this fraction.
    public let compressionThreshold: Double
    public let compressionLevel: Int32
    /// Frame indexes of compressed blobs, read once: content by digest never changes,
    /// and a removed blob drops its entry.
    private let frameIndexes = NIOLockedValueBox([Digest: FrameIndex]())

    public init(
        root: String, threadPool: NIOThreadPool = .singleton,
        frameSize: Int = 1 << 20, compressionThreshold: Double = 0.9, compressionLevel: Int32 = 3
    ) {
        self.layout = StoreLayout(root: root)
        self.threadPool = threadPool
        self.frameSize = frameSize
        self.compressionThreshold = compressionThreshold
        self.compressionLevel = compressionLevel
    }

    /// Creates the directories, removes what earlier fills left in `tmp/`, and checks
    /// that the store is writable.
    public func prepare() throws(StoreError) {
        try FS.makeDirectories(layout.root)
        try FS.makeDirectories(layout.blobsDirectory)
        FS.removeTree(layout.tmpDirectory)
        try FS.makeDirectories(layout.tmpDirectory)
        let probe = "\(layout.tmpDirectory)/.write-probe"
        let file = try StoreFile(path: probe, flags: O_WRONLY | O_CREAT | O_TRUNC)
        _ = file
        unlink(probe)
    }

    /// Whether the cache directory and its `blobs/` and `tmp/` are all still there.
    public var isIntact: Bool {
        [layout.root, layout.blobsDirectory, layout.tmpDirectory].allSatisfy { FS.isDirectory($0) }
    }

    /// Recreates a cache directory that vanished under the running server, empty, and
    /// forgets what was remembered of its files.
    public func rebuild() throws(StoreError) {
        frameIndexes.withLockedValue { $0 = [:] }
        try FS.makeDirectories(layout.root)
        try prepareDirectories()
    }

    /// Creates the directories without touching `tmp/` (for tools beside a running server).
    public func prepareDirectories() throws(StoreError) {
        try FS.makeDirectories(layout.blobsDirectory)
        try FS.makeDirectories(layout.tmpDirectory)
    }

    /// Checks that the store can still be written (a file is created and removed in `tmp/`).
    public func prepareProbe() throws(StoreError) {
        let probe = "\(layout.tmpDirectory)/.ready-\(UUID().uuidString)"
        _ = try StoreFile(path: probe, flags: O_WRONLY | O_CREAT | O_EXCL)
        unlink(probe)
    }

    /// Starts a temp file for a new blob.
    /// A writer for a new blob. With `hashLane`, bytes are hashed on a lane of their own
    /// while the caller goes on writing (fills); see ``BlobWriter/hashRoom(on:)``.
    public func makeWriter(algorithm: Digest.Algorithm = .sha256, hashLane: Bool = false) throws(StoreError) -> BlobWriter {
        try BlobWriter(path: "\(layout.tmpDirectory)/\(UUID().uuidString).part", algorithm: algorithm, hashLane: hashLane)
    }

    /// Verifies a finished writer and makes the blob visible.
    ///
    /// On a verification failure the temp file is removed and the error thrown: the
    /// blob never becomes visible.
    public func commit(_ writer: BlobWriter, digest: Digest, expectedSize: Int64?) async throws -> StoredBlob {
        try await commit(writer, digest: digest, expectedSize: expectedSize, durable: true)
    }

    /// Like ``commit(_:digest:expectedSize:)``, without waiting for the disk: the verified
    /// blob is visible and readable at once, and ``makeDurable(_:)`` syncs it later. Until
    /// then a crash may leave it torn, so the index must mark it provisional, and start-up
    /// verifies provisional blobs again (``Reconciler``).
    public func commitProvisionally(_ writer: BlobWriter, digest: Digest, expectedSize: Int64?) async throws -> StoredBlob {
        try await commit(writer, digest: digest, expectedSize: expectedSize, durable: false)
    }

    /// Syncs a blob's files and directories to disk.
    public func makeDurable(_ digest: Digest) async throws {
        let directory = layout.blobDirectory(digest)
        try await threadPool.runIfActive { [layout] () throws in
            for name in [StoreLayout.rawFile, StoreLayout.compressedFile, StoreLayout.frameIndexFile] {
                let path = "\(directory)/\(name)"
                guard FS.fileSize(path) != nil else { continue }
                try StoreFile(path: path, flags: O_RDONLY).sync()
            }
            FS.fsyncDirectory(directory)
            FS.fsyncDirectory(layout.shardDirectory(digest))
        }
    }

    private func commit(_ writer: BlobWriter, digest: Digest, expectedSize: Int64?, durable: Bool) async throws -> StoredBlob {
        do {
            try await writer.verify(expected: digest, expectedSize: expectedSize)
        } catch {
            writer.discard()
            throw error
        }
        let size = writer.written
        return try await threadPool.runIfActive { [self] () throws -> StoredBlob in
            do {
                return try self.install(writer, digest: digest, size: size, durable: durable)
            } catch {
                writer.discard()
                throw error
            }
        }
    }

    /// Stores bytes held in memory (manifests), verifying them against `digest`.
    public func put(_ bytes: [UInt8], digest: Digest) async throws -> StoredBlob {
        if let existing = lookup(digest) { return existing }
        let writer = try makeWriter(algorithm: digest.algorithm)
        var buffer = ByteBufferAllocator().buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        try writer.append(buffer)
        return try await commit(writer, digest: digest, expectedSize: Int64(bytes.count))
    }

    /// Blocking: decides raw or compressed, writes the blob's directory in `tmp/`, and
    /// renames it into place; `durable`: with every file and directory synced first.
    private func install(_ writer: BlobWriter, digest: Digest, size: Int64, durable: Bool) throws -> StoredBlob {
        if durable { try writer.file.sync() }
        let staging = "\(layout.tmpDirectory)/\(UUID().uuidString).d"
        try FS.makeDirectories(staging)
        defer { FS.removeTree(staging) }

        let blob: StoredBlob
        var compressedIndex: FrameIndex? = nil
        if try shouldCompress(writer.file, size: size) {
            let index = try writeFrames(from: writer.file, size: size, into: staging, durable: durable)
            compressedIndex = index
            writer.discard()
            blob = StoredBlob(digest: digest, size: size, storedSize: index.compressedSize, compressed: true)
        } else {
            try FS.rename(writer.path, "\(staging)/\(StoreLayout.rawFile)")
            blob = StoredBlob(digest: digest, size: size, storedSize: size, compressed: false)
        }
        if durable { FS.fsyncDirectory(staging) }

        try FS.makeDirectories(layout.shardDirectory(digest))
        let target = layout.blobDirectory(digest)
        if rename(staging, target) != 0 {
            // Race: another fill of the same digest committed first. Its content is
            // verified and identical, so keep it and drop ours.
            if errno == EEXIST || errno == ENOTEMPTY, let existing = lookup(digest) { return existing }
            throw StoreError.io("rename", target, errno: errno)
        }
        if durable { FS.fsyncDirectory(layout.shardDirectory(digest)) }
        if let index = compressedIndex { frameIndexes.withLockedValue { $0[digest] = index } }
        return blob
    }

    private func shouldCompress(_ file: StoreFile, size: Int64) throws -> Bool {
        guard size >= 64 else { return false }
        let sampleSize = Int(min(size, 256 << 10))
        var sample = ByteBufferAllocator().buffer(capacity: sampleSize)
        try file.read(at: 0, count: sampleSize, into: &sample)
        return sample.withUnsafeReadableBytes { Zstd.ratio(ofSample: $0, level: compressionLevel) } <= compressionThreshold
    }

    private func writeFrames(from file: StoreFile, size: Int64, into directory: String, durable: Bool) throws -> FrameIndex {
        let out = try StoreFile(path: "\(directory)/\(StoreLayout.compressedFile)", flags: O_WRONLY | O_CREAT | O_EXCL)
        var offsets: [Int64] = [0]
        var position: Int64 = 0
        var frame: [UInt8] = []
        var chunk = ByteBufferAllocator().buffer(capacity: frameSize)
        let compressor = FrameCompressor(level: compressionLevel)
        while position < size {
            let count = Int(min(Int64(frameSize), size - position))
            chunk.clear()
            try file.read(at: position, count: count, into: &chunk)
            guard chunk.readableBytes == count else { throw StoreError.corrupt("temp file shrank while compressing") }
            frame.removeAll(keepingCapacity: true)
            try chunk.withUnsafeReadableBytes { (bytes: UnsafeRawBufferPointer) throws in
                try compressor.compress(bytes, into: &frame)
            }
            try frame.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) throws in
                try out.write(bytes, at: offsets[offsets.count - 1])
            }
            offsets.append(offsets[offsets.count - 1] + Int64(frame.count))
            position += Int64(count)
        }
        if durable { try out.sync() }
        let index = FrameIndex(frameSize: frameSize, uncompressedSize: size, offsets: offsets)
        let indexFile = try StoreFile(path: "\(directory)/\(StoreLayout.frameIndexFile)", flags: O_WRONLY | O_CREAT | O_EXCL)
        try index.serialized().withUnsafeBytes { (bytes: UnsafeRawBufferPointer) throws in
            try indexFile.write(bytes, at: 0)
        }
        if durable { try indexFile.sync() }
        return index
    }

    /// Whether anything of `digest` is on disk (its directory), whole or not.
    public func hasEntry(_ digest: Digest) -> Bool {
        FileManager.default.fileExists(atPath: layout.blobDirectory(digest))
    }

    /// The stored blob for a digest, if it is in the store. Reads only file metadata
    /// (and the small frame index for compressed blobs).
    public func lookup(_ digest: Digest) -> StoredBlob? {
        let directory = layout.blobDirectory(digest)
        if let size = FS.fileSize("\(directory)/\(StoreLayout.rawFile)") {
            return StoredBlob(digest: digest, size: size, storedSize: size, compressed: false)
        }
        // Another process (strata verify, a person) may have removed it: check the frames are there.
        guard let index = try? frameIndex(digest), FS.fileSize("\(directory)/\(StoreLayout.compressedFile)") != nil else {
            forgetFrameIndex(digest)
            return nil
        }
        return StoredBlob(digest: digest, size: index.uncompressedSize, storedSize: index.compressedSize, compressed: true)
    }

    private func frameIndex(_ digest: Digest) throws -> FrameIndex {
        if let cached = frameIndexes.withLockedValue({ $0[digest] }) { return cached }
        let index = try readFrameIndex(layout.blobDirectory(digest))
        frameIndexes.withLockedValue { $0[digest] = index }
        return index
    }

    private func readFrameIndex(_ directory: String) throws -> FrameIndex {
        let file = try StoreFile(path: "\(directory)/\(StoreLayout.frameIndexFile)", flags: O_RDONLY)
        let size = try file.size()
        guard size < 1 << 30 else { throw StoreError.corrupt("frame index too large") }
        var buffer = ByteBufferAllocator().buffer(capacity: Int(size))
        try file.read(at: 0, count: Int(size), into: &buffer)
        do {
            return try FrameIndex(parsing: Array(buffer.readableBytesView))
        } catch {
            throw StoreError.corrupt(error.description)
        }
    }

    /// Opens a stored blob for reading. Throws `notFound` when its files are not there,
    /// `corrupt` when they are but do not fit together (a damaged or cut file).
    public func open(_ digest: Digest) throws -> BlobReader {
        let directory = layout.blobDirectory(digest)
        if let file = try? StoreFile(path: "\(directory)/\(StoreLayout.rawFile)", flags: O_RDONLY) {
            let size = try file.size()
            return .raw(StoredBlob(digest: digest, size: size, storedSize: size, compressed: false), file: file, threadPool: threadPool)
        }
        guard let file = try? StoreFile(path: "\(directory)/\(StoreLayout.compressedFile)", flags: O_RDONLY) else {
            forgetFrameIndex(digest)
            throw StoreError.notFound(digest)
        }
        var index: FrameIndex
        do {
            index = try frameIndex(digest)
        } catch {
            // The frames are there, their index is missing or damaged: a damaged entry, not an absent one.
            forgetFrameIndex(digest)
            throw StoreError.corrupt("\(directory): \(error)")
        }
        if try file.size() != index.compressedSize {
            // Written again by another process since the index was cached: read it anew.
            forgetFrameIndex(digest)
            index = try frameIndex(digest)
        }
        guard try file.size() == index.compressedSize else { throw StoreError.corrupt("\(file.path) does not match its frame index") }
        let blob = StoredBlob(digest: digest, size: index.uncompressedSize, storedSize: index.compressedSize, compressed: true)
        return .frames(blob, file: file, index: index, threadPool: threadPool)
    }

    /// Reads a small blob whole.
    public func readAll(_ digest: Digest) async throws -> [UInt8] {
        try await open(digest).readAll()
    }

    /// Removes blobs on threads of their own, `lanes` at a time: an eviction's long run
    /// of filesystem calls holds no thread that serves clients, and lanes side by side
    /// overlap their waits on the journal.
    public func remove(_ digests: [Digest], lanes: Int = BlobStore.removalLanes) async {
        guard !digests.isEmpty else { return }
        let lanes = max(1, min(lanes, digests.count))
        await BlockingLanes.run(lanes) { lane in
            for index in stride(from: lane, to: digests.count, by: lanes) { self.remove(digests[index]) }
        }
    }

    public static let removalLanes = 2

    /// Removes a blob from the store.
    public func remove(_ digest: Digest) {
        forgetFrameIndex(digest)
        let target = layout.blobDirectory(digest)
        let doomed = "\(layout.tmpDirectory)/\(UUID().uuidString).rm"
        // Rename first so a reader never sees a half-deleted directory. Its files have
        // known names: unlinked by name, the directory goes without being listed, unless
        // something else was put in it.
        guard rename(target, doomed) == 0 else { return }
        // Most blobs are raw: one file, then the directory.
        if unlink("\(doomed)/\(StoreLayout.rawFile)") == 0, rmdir(doomed) == 0 { return }
        for name in [StoreLayout.compressedFile, StoreLayout.frameIndexFile] { unlink("\(doomed)/\(name)") }
        if rmdir(doomed) != 0 { FS.removeTree(doomed) }
    }

    func forgetFrameIndex(_ digest: Digest) {
        _ = frameIndexes.withLockedValue { $0.removeValue(forKey: digest) }
    }
}
