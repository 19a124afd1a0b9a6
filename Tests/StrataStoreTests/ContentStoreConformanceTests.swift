import Logging
import NIOCore
import StrataCore
import StrataStore
import StrataTesting
import Testing

/// The one conformance suite, run against every content store this module has.
@Suite struct ContentStoreConformanceTests {
    static func disk() throws -> DiskContentStore {
        var logger = Logger(label: "conformance")
        logger.logLevel = .critical
        let blobs = BlobStore(root: makeTempDirectory("conformance"))
        try blobs.prepare()
        return DiskContentStore(blobs: blobs, index: try CacheIndex(), logger: logger)
    }

    @Test(arguments: ContentStoreConformance.names)
    func disk(_ check: String) async throws {
        try await ContentStoreConformance.checks[check]!(try Self.disk())
    }

    @Test(arguments: ContentStoreConformance.names)
    func memory(_ check: String) async throws {
        try await ContentStoreConformance.checks[check]!(MemoryContentStore())
    }

    /// A store in memory bounded like a disk: a fill past its room fails as a full disk.
    @Test func memoryStoreFillsUpLikeADisk() async throws {
        let store = MemoryContentStore(capacity: 100_000)
        let bytes = ImageFixture.randomBytes(150_000)
        let sink = try store.makeSink(for: ContentHasher.digest(of: bytes))
        try sink.append(ByteBuffer(bytes: bytes[0..<90_000]))
        #expect(throws: StoreError.self) { try sink.append(ByteBuffer(bytes: bytes[90_000...])) }
        do {
            try sink.append(ByteBuffer(bytes: bytes[90_000...]))
        } catch let error as StoreError {
            #expect(error.isDiskFull)
        }
        sink.discard()
        // The room comes back once the sink is gone.
        let small = ImageFixture.randomBytes(90_000)
        let other = try store.makeSink(for: ContentHasher.digest(of: small))
        try other.append(ByteBuffer(bytes: small))
        _ = try await store.commit(other, digest: ContentHasher.digest(of: small), expectedSize: nil)
        #expect(await store.blob(ContentHasher.digest(of: small)) != nil)
    }
}
