import Foundation
import NIOCore
import StrataCore
import StrataTesting
import Testing
@testable import StrataStore

/// Blobs recorded before their files were synced are verified again at start-up: a
/// crash may have left them torn, and a torn blob must never be served as good.
@Suite struct ReconcilerTests {
    func makeStoreAndIndex() throws -> (BlobStore, CacheIndex) {
        let root = makeTempDirectory("reconcile")
        let store = BlobStore(root: root)
        try store.prepare()
        return (store, try CacheIndex(path: root + "/index.sqlite"))
    }

    func provisionalBlob(_ store: BlobStore, _ index: CacheIndex, _ bytes: [UInt8]) async throws -> Digest {
        let digest = ContentHasher.digest(of: bytes)
        let writer = try store.makeWriter()
        try writer.append(ByteBuffer(bytes: bytes))
        let blob = try await store.commitProvisionally(writer, digest: digest, expectedSize: Int64(bytes.count))
        try index.recordBlob(blob, mediaType: nil, at: Date(), provisional: true)
        return digest
    }

    @Test func aTornProvisionalBlobIsRemovedAndAnIntactOneConfirmed() async throws {
        let (store, index) = try makeStoreAndIndex()
        let torn = try await provisionalBlob(store, index, ImageFixture.randomBytes(200_000))
        let intact = try await provisionalBlob(store, index, ImageFixture.randomBytes(100_000))
        #expect(Set(try index.provisionalBlobs()) == [torn, intact])

        // What a crash before the sync can leave: the right name, the wrong bytes.
        let file = try FileHandle(forWritingTo: URL(fileURLWithPath: store.layout.blobDirectory(torn) + "/" + StoreLayout.rawFile))
        try file.truncate(atOffset: 50_000)
        try file.close()

        let report = try await Reconciler(store: store, index: index).run()
        #expect(report.removed == 1)
        #expect(report.confirmed == 1)
        #expect(store.lookup(torn) == nil)
        #expect(try index.blob(torn) == nil)
        #expect(try await store.readAll(intact).count == 100_000)
        #expect(try index.blob(intact) != nil)
        #expect(try index.provisionalBlobs().isEmpty)
    }

    @Test func aDurableRecordIsNotDowngradedByALateProvisionalOne() async throws {
        let (store, index) = try makeStoreAndIndex()
        let digest = try await provisionalBlob(store, index, ImageFixture.randomBytes(10_000))
        try await store.makeDurable(digest)
        try index.markDurable(digest)
        let blob = try #require(store.lookup(digest))
        try index.recordBlob(blob, mediaType: nil, at: Date(), provisional: true)
        #expect(try index.provisionalBlobs().isEmpty)
    }
}
