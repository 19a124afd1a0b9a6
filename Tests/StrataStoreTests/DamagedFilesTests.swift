import Foundation
import Logging
import NIOCore
import StrataCore
import StrataFrames
import StrataStore
import StrataTesting
import Testing

/// Files on disk damaged or edited by hand fail that blob's read and are quarantined,
/// so that the next fill replaces them; never the process.
@Suite struct DamagedFilesTests {
    func store() throws -> DiskContentStore {
        var logger = Logger(label: "damaged")
        logger.logLevel = .critical
        let blobs = BlobStore(root: makeTempDirectory("damaged"), frameSize: 64 << 10)
        try blobs.prepare()
        return DiskContentStore(blobs: blobs, index: try CacheIndex(), logger: logger)
    }

    /// A compressed blob of several frames, committed and durable.
    func compressedBlob(in store: DiskContentStore) async throws -> (Digest, [UInt8]) {
        let bytes = BlobStoreTests.text(300_000)
        let digest = ContentHasher.digest(of: bytes)
        let sink = try store.makeSink(for: digest)
        try sink.append(ByteBuffer(bytes: bytes))
        let blob = try await store.commit(sink, digest: digest, expectedSize: nil)
        try await store.makeDurable(digest)
        #expect(blob.compressed)
        return (digest, bytes)
    }

    func path(_ store: DiskContentStore, _ digest: Digest, _ file: String) -> String {
        store.blobs.layout.blobDirectory(digest) + "/" + file
    }

    /// Reads a blob whole through the store, as a cache hit would.
    func readAll(_ store: DiskContentStore, _ digest: Digest) async throws -> [UInt8]? {
        guard let content = await store.blob(digest) else { return nil }
        var out: [UInt8] = []
        try await content.read(0, content.blob.size) { out += $0.readableBytesView }
        return out
    }

    /// Refills the blob, as the next request's fill would.
    func refill(_ store: DiskContentStore, _ digest: Digest, _ bytes: [UInt8]) async throws {
        let sink = try store.makeSink(for: digest)
        try sink.append(ByteBuffer(bytes: bytes))
        _ = try await store.commit(sink, digest: digest, expectedSize: nil)
        try await store.makeDurable(digest)
    }

    /// Finding 1: two equal offsets in `frames.idx` make a frame of zero bytes; reading it
    /// trapped on an empty scratch buffer. Now the index is refused and the blob refilled.
    @Test func aFrameOfZeroCompressedBytesFailsTheReadNotTheProcess() async throws {
        let store = try store()
        let (digest, bytes) = try await compressedBlob(in: store)
        let indexPath = path(store, digest, StoreLayout.frameIndexFile)
        var index = try Array(Data(contentsOf: URL(fileURLWithPath: indexPath)))
        // Offsets start at byte 32, 8 bytes each: the second offset made equal to the first.
        index.replaceSubrange(40..<48, with: index[32..<40])
        try Data(index).write(to: URL(fileURLWithPath: indexPath))
        // A fresh store on the same files (nothing of the old index cached in memory).
        var logger = Logger(label: "damaged")
        logger.logLevel = .critical
        let reopened = DiskContentStore(blobs: BlobStore(root: store.blobs.layout.root, frameSize: 64 << 10), index: store.index, logger: logger)
        #expect(try await readAll(reopened, digest) == nil)
        #expect(!FileManager.default.fileExists(atPath: reopened.blobs.layout.blobDirectory(digest)), "quarantined")
        try await refill(reopened, digest, bytes)
        #expect(try await readAll(reopened, digest) == bytes)
    }

    /// Finding 10: a cut `data.zst` was refetched on every request and never replaced
    /// (the install kept the damaged directory). Now the first failed open quarantines it.
    @Test func aTruncatedCompressedFileIsQuarantinedAndReplacedByTheFill() async throws {
        let store = try store()
        let (digest, bytes) = try await compressedBlob(in: store)
        let dataPath = path(store, digest, StoreLayout.compressedFile)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: dataPath))
        let size = try handle.seekToEnd()
        try handle.truncate(atOffset: size / 2)
        try handle.close()
        #expect(try await readAll(store, digest) == nil)
        #expect(!FileManager.default.fileExists(atPath: dataPath), "quarantined on the first failure")
        try await refill(store, digest, bytes)
        #expect(try await readAll(store, digest) == bytes)
        let healed = try FileManager.default.attributesOfItem(atPath: dataPath)[.size] as? Int
        #expect(healed.map(Int64.init) == Int64(size))
    }

    /// The decoder the fuzz target drives reads the store's own files as the store does.
    @Test func theFrameDecoderReadsWhatTheStoreWrote() async throws {
        let store = try store()
        let (digest, bytes) = try await compressedBlob(in: store)
        let data = try Array(Data(contentsOf: URL(fileURLWithPath: path(store, digest, StoreLayout.compressedFile))))
        let index = try FrameIndex(parsing: Array(Data(contentsOf: URL(fileURLWithPath: path(store, digest, StoreLayout.frameIndexFile)))))
        #expect(index.frameCount > 1)
        #expect(try FrameDecoder.read(0, Int64(bytes.count), of: data, index: index) == bytes)
        #expect(try FrameDecoder.read(70_000, 140_000, of: data, index: index) == Array(bytes[70_000..<140_000]))
        var cut = data
        cut.removeLast(10)
        #expect(throws: FrameDecoder.Failure.self) { try FrameDecoder.read(0, Int64(bytes.count), of: cut, index: index) }
    }

    @Test func frameIndexOffsetsMustRise() throws {
        let valid = FrameIndex(frameSize: 4, uncompressedSize: 8, offsets: [0, 10, 20]).serialized()
        #expect(try FrameIndex(parsing: valid).frameCount == 2)
        for offsets in [[0, 10, 10], [0, 0, 20], [0, 20, 10]] {
            let damaged = FrameIndex(frameSize: 4, uncompressedSize: 8, offsets: offsets.map(Int64.init)).serialized()
            #expect(throws: FrameIndex.Corrupt.self, "\(offsets)") { try FrameIndex(parsing: damaged) }
        }
    }
}
