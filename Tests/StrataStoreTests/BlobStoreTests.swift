import Foundation
import NIOCore
import StrataCore
import StrataTesting
import Testing
@testable import StrataStore

@Suite struct BlobStoreTests {
    func makeStore(frameSize: Int = 64 << 10) throws -> BlobStore {
        let store = BlobStore(root: makeTempDirectory("store"), frameSize: frameSize)
        try store.prepare()
        return store
    }

    func write(_ store: BlobStore, _ bytes: [UInt8], chunk: Int = 10_000) throws -> BlobWriter {
        let writer = try store.makeWriter()
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + chunk, bytes.count)
            try writer.append(ByteBuffer(bytes: bytes[offset..<end]))
            offset = end
        }
        return writer
    }

    /// Listing a large shard directory finds every blob in it (names are read where the
    /// directory entries lie: copying each entry's whole name field once crashed on a
    /// shard of a large cache).
    @Test func largeShardsAreListedWhole() throws {
        let store = try makeStore()
        var made = Set<Digest>()
        var n = 0
        while made.count < 3000 {
            let digest = ContentHasher.digest(of: Array("blob \(n)".utf8))
            n += 1
            guard digest.hex.hasPrefix("ab") || made.count % 7 == 0 && digest.hex.hasPrefix("a") else { continue }
            try FileManager.default.createDirectory(atPath: store.layout.blobDirectory(digest), withIntermediateDirectories: true)
            made.insert(digest)
        }
        let shards = Set(made.map { String($0.hex.prefix(2)) })
        var listed = Set<Digest>()
        for shard in shards { listed.formUnion(store.digestsOnDisk(algorithm: .sha256, shard: shard)) }
        #expect(listed == made)
        #expect(Set(store.digestsOnDisk()) == made)
    }

    static func text(_ count: Int) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while out.count < count {
            out.append(contentsOf: "{\"line\": \(i), \"text\": \"compressible json content\"}\n".utf8)
            i += 1
        }
        return Array(out.prefix(count))
    }

    @Test func randomBlobIsStoredRawAndReadsBack() async throws {
        let store = try makeStore()
        let bytes = ImageFixture.randomBytes(300_000)
        let digest = ContentHasher.digest(of: bytes)
        let blob = try await store.commit(try write(store, bytes), digest: digest, expectedSize: Int64(bytes.count))
        #expect(!blob.compressed)
        #expect(blob.size == 300_000)
        #expect(FileManager.default.fileExists(atPath: store.layout.blobDirectory(digest) + "/data"))
        #expect(try await store.readAll(digest) == bytes)
        #expect(store.lookup(digest) == blob)
    }

    @Test func compressibleBlobIsStoredAsFramesAndRangesDecompressOnlyWhatTheyTouch() async throws {
        let store = try makeStore(frameSize: 64 << 10)
        let bytes = Self.text(1_000_000)
        let digest = ContentHasher.digest(of: bytes)
        let blob = try await store.commit(try write(store, bytes), digest: digest, expectedSize: nil)
        #expect(blob.compressed)
        #expect(blob.storedSize < blob.size / 2)
        let reader = try store.open(digest)
        // Ranges inside one frame, across frame boundaries, at the very end.
        for (lower, upper) in [(0, 10), (65_530, 65_550), (100_000, 400_000), (999_990, 1_000_000), (0, 1_000_000)] {
            var got: [UInt8] = []
            try await reader.read(Int64(lower), Int64(upper)) { got.append(contentsOf: $0.readableBytesView) }
            #expect(got == Array(bytes[lower..<upper]), "range \(lower)-\(upper)")
        }
        let index = try FrameIndex(parsing: Array(try Data(contentsOf: URL(fileURLWithPath: store.layout.blobDirectory(digest) + "/frames.idx"))))
        #expect(index.frameCount == 16)
        #expect(index.frames(covering: 65_530, 65_550) == 0..<2)
        #expect(index.frames(covering: 999_990, 1_000_000) == 15..<16)
    }

    /// Frames are decompressed block by block up to the range's end and handed on as one
    /// group of heap-sized pieces per frame the range touches (a response writes a group
    /// in one go).
    @Test func rangesEndingInsideLargeFramesReadBackExactly() async throws {
        let store = try makeStore(frameSize: 1 << 20)
        let bytes = Self.text(3_000_000)
        let digest = ContentHasher.digest(of: bytes)
        let blob = try await store.commit(try write(store, bytes), digest: digest, expectedSize: nil)
        #expect(blob.compressed)
        let reader = try store.open(digest)
        // Inside one block, across blocks, up to a frame's end, across frames, the whole blob.
        for (lower, upper) in [(5, 70), (70_000, 200_000), (0, 1 << 20), (1_048_570, 1_048_590), (900_000, 2_200_001), (0, 3_000_000)] {
            var got: [UInt8] = []
            var groups = 0
            try await reader.readPieces(Int64(lower), Int64(upper)) { pieces in
                for piece in pieces {
                    #expect(piece.readableBytes <= BlobReader.pieceSize)
                    got.append(contentsOf: piece.readableBytesView)
                }
                groups += 1
            }
            #expect(got == Array(bytes[lower..<upper]), "range \(lower)-\(upper)")
            #expect(groups == (upper - 1) / (1 << 20) - lower / (1 << 20) + 1, "range \(lower)-\(upper)")
            var whole: [UInt8] = []
            try await reader.read(Int64(lower), Int64(upper)) { whole.append(contentsOf: $0.readableBytesView) }
            #expect(whole == got)
        }
    }

    /// A compressed file damaged on disk fails the read with an error; it never yields
    /// other bytes, whether the range stops inside the damaged frame or runs past it.
    /// A frame whose blocks still decode is caught by its checksum when it is decoded to
    /// its end (a range that stops inside it is left to the scrubber's digest check).
    @Test(arguments: ["magic", "blocks", "checksum", "cut"])
    func aDamagedFrameFailsTheReadInsteadOfServingWrongBytes(damage: String) async throws {
        let store = try makeStore(frameSize: 1 << 20)
        let bytes = Self.text(2_500_000)
        let digest = ContentHasher.digest(of: bytes)
        let blob = try await store.commit(try write(store, bytes), digest: digest, expectedSize: nil)
        #expect(blob.compressed)
        let path = store.layout.blobDirectory(digest) + "/" + StoreLayout.compressedFile
        var stored = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        // The second frame starts at the second zstd magic number.
        let magic: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD]
        let second = try #require((4..<stored.count - 4).first { Array(stored[$0..<$0 + 4]) == magic })
        let third = (second + 4..<stored.count - 4).first { Array(stored[$0..<$0 + 4]) == magic } ?? stored.count
        // Frames are written with a checksum: bit 2 of the frame header descriptor.
        #expect(stored[second + 4] & 0x04 != 0)
        switch damage {
        case "magic": stored[second] = 0
        case "blocks": for i in second + 16..<third { stored[i] = 0xFF }
        case "checksum": stored[third - 1] ^= 0x01  // the last byte of the second frame's checksum
        default: stored.removeLast(stored.count - (second + third) / 2)
        }
        try Data(stored).write(to: URL(fileURLWithPath: path))
        if damage == "cut" {
            // A file shorter than its frame index says is refused when it is opened.
            #expect(throws: StoreError.self) { try store.open(digest) }
            return
        }
        let reader = try store.open(digest)
        var first: [UInt8] = []
        try await reader.read(0, 1000) { first.append(contentsOf: $0.readableBytesView) }
        #expect(first == Array(bytes[0..<1000]))
        for (lower, upper) in [(1_048_576, 1_048_700), (1_000_000, 2_500_000)] {
            if damage == "checksum" && upper < 2 << 20 {
                // Stops inside the frame: its blocks decode, its checksum is not reached.
                var got: [UInt8] = []
                try await reader.read(Int64(lower), Int64(upper)) { got.append(contentsOf: $0.readableBytesView) }
                #expect(got == Array(bytes[lower..<upper]))
                continue
            }
            var got: [UInt8] = []
            await #expect(throws: StoreError.self, "range \(lower)-\(upper)") {
                try await reader.read(Int64(lower), Int64(upper)) { got.append(contentsOf: $0.readableBytesView) }
            }
            #expect(Array(bytes[lower..<upper]).starts(with: got))
        }
    }

    /// An eviction's removals run in lanes side by side: exactly the blobs named go,
    /// the others stay readable, and nothing is left behind in `tmp/`.
    @Test func blobsRemovedInLanesGoAndTheRestStay() async throws {
        let store = try makeStore()
        var digests: [Digest] = []
        for n in 0..<40 {
            let bytes = Self.text(1000 + n)
            let digest = ContentHasher.digest(of: bytes)
            _ = try await store.commit(try write(store, bytes), digest: digest, expectedSize: nil)
            digests.append(digest)
        }
        let doomed = digests.enumerated().filter { $0.offset % 3 != 0 }.map(\.element)
        await store.remove(doomed, lanes: 3)
        for (n, digest) in digests.enumerated() {
            if n % 3 == 0 {
                let bytes = try await store.readAll(digest)
                #expect(bytes == Self.text(1000 + n))
            } else {
                #expect(store.lookup(digest) == nil)
                #expect(!FileManager.default.fileExists(atPath: store.layout.blobDirectory(digest)))
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.layout.tmpDirectory).isEmpty)
    }

    @Test func wrongDigestIsNeverVisible() async throws {
        let store = try makeStore()
        let bytes = Self.text(50_000)
        let claimed = ContentHasher.digest(of: Array("something else".utf8))
        let writer = try write(store, bytes)
        await #expect(throws: StoreError.self) {
            try await store.commit(writer, digest: claimed, expectedSize: nil)
        }
        #expect(store.lookup(claimed) == nil)
        #expect(!FileManager.default.fileExists(atPath: store.layout.blobDirectory(claimed)))
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.layout.tmpDirectory).isEmpty)
    }

    @Test func hashLaneGivesTheSameVerdictsAndBoundsItsBacklog() async throws {
        let store = try makeStore()
        let bytes = ImageFixture.randomBytes(24 << 20)
        let digest = ContentHasher.digest(of: bytes)
        let eventLoop = NIOSingletons.posixEventLoopGroup.next()
        for corrupt in [true, false] {
            let writer = try store.makeWriter(hashLane: true)
            var offset = 0
            while offset < bytes.count {
                var chunk = ByteBuffer(bytes: bytes[offset..<min(offset + (64 << 10), bytes.count)])
                if corrupt && offset == 10 << 20 { chunk.setInteger(~chunk.getInteger(at: 0, as: UInt8.self)!, at: 0) }
                try writer.append(chunk)
                offset += 64 << 10
                // Past the high-water mark the feeder is told to wait; the wait ends.
                if let room = writer.hashRoom(on: eventLoop) {
                    try await room.get()
                }
            }
            if corrupt {
                await #expect(throws: StoreError.self) { try await store.commit(writer, digest: digest, expectedSize: nil) }
                #expect(store.lookup(digest) == nil)
            } else {
                let blob = try await store.commit(writer, digest: digest, expectedSize: Int64(bytes.count))
                #expect(blob.size == Int64(bytes.count))
                #expect(try await store.readAll(digest) == bytes)
            }
        }
    }

    @Test func wrongSizeIsNeverVisible() async throws {
        let store = try makeStore()
        let bytes = Self.text(5_000)
        let digest = ContentHasher.digest(of: bytes)
        await #expect(throws: StoreError.self) {
            try await store.commit(try write(store, bytes), digest: digest, expectedSize: 4_999)
        }
        #expect(store.lookup(digest) == nil)
    }

    @Test func startUpRemovesTempLeftoversAndKeepsBlobs() async throws {
        let root = makeTempDirectory("restart")
        let store = BlobStore(root: root)
        try store.prepare()
        let bytes = Self.text(10_000)
        let digest = ContentHasher.digest(of: bytes)
        _ = try await store.put(bytes, digest: digest)
        let leftover = try write(store, Self.text(3_000))
        #expect(FileManager.default.fileExists(atPath: leftover.path))

        let again = BlobStore(root: root)
        try again.prepare()
        #expect(!FileManager.default.fileExists(atPath: leftover.path))
        #expect(try await again.readAll(digest) == bytes)
    }

    @Test func unwritableDirectoryIsReported() throws {
        let store = BlobStore(root: "/proc/strata-cannot-write-here")
        #expect(throws: StoreError.self) { try store.prepare() }
    }

    @Test func indexRecordsTagsManifestsAndBlobs() throws {
        let index = try CacheIndex()
        let digest = ContentHasher.digest(of: Array("m".utf8))
        let now = Date(timeIntervalSince1970: 1_000)
        try index.recordBlob(StoredBlob(digest: digest, size: 10, storedSize: 8, compressed: true), mediaType: "application/json", at: now)
        try index.recordAccess([digest: (hits: 3, last: now.addingTimeInterval(5))])
        let row = try #require(try index.blob(digest))
        #expect(row.hits == 3)
        #expect(row.storedSize == 8)
        #expect(row.lastAccess == now.addingTimeInterval(5))
        let repo = try RepositoryName("library/x")
        try index.setTag(.init(registry: "docker.io", repository: repo, tag: try Tag("1"), digest: digest, mediaType: "m", fetchedAt: now, tier: "canonical"))
        try index.setTag(.init(registry: "ghcr.io", repository: repo, tag: try Tag("2"), digest: digest, mediaType: "m", fetchedAt: now, tier: "canonical"))
        #expect(try index.tags(registry: "docker.io", repository: repo).map(\.tag.value) == ["1"])
        #expect(try index.tags(registry: "ghcr.io", repository: repo).map(\.tag.value) == ["2"])
        #expect(try index.repositories(registry: "docker.io") == [repo])
        #expect(try index.repositories(registry: "quay.io") == [])
    }
}
