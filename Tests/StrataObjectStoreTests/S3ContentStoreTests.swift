import AsyncHTTPClient
import NIOCore
import StrataCore
import StrataStore
import StrataTesting
import Testing
@testable import StrataObjectStore

/// The shared store passes the same conformance suite as the disk and memory stores,
/// against a real Ceph RGW bucket.
@Suite struct S3ContentStoreTests {
    static func store(partSize: Int = 16 << 20, bucket: String = ObjectStoreFixture.bucketName("store")) async throws -> S3ContentStore {
        let endpoint = try await ObjectStoreFixture.shared.endpoint()
        let client = S3Client(.init(endpoint: endpoint.url, bucket: bucket, region: endpoint.region,
                                    accessKey: endpoint.accessKey, secretKey: endpoint.secretKey), http: TestHTTPClient.shared)
        try await client.createBucket()
        let scratch = BlobStore(root: makeTempDirectory("s3-scratch"))
        try scratch.prepare()
        return S3ContentStore(client: client, prefix: "central", scratch: scratch, partSize: partSize)
    }

    @Test(arguments: ContentStoreConformance.names)
    func conformance(_ check: String) async throws {
        try await ContentStoreConformance.checks[check]!(try await Self.store())
    }

    /// A blob larger than a part goes up as a multipart upload and reads back whole.
    @Test func largeBlobsGoUpInParts() async throws {
        let store = try await Self.store(partSize: 5 << 20)
        let bytes = ImageFixture.randomBytes(12 << 20)
        let digest = try await SharedJanitorTests.blob(store, bytes)
        let blob = try #require(await store.blob(digest))
        var out: [UInt8] = []
        try await blob.read(0, blob.blob.size) { out += $0.readableBytesView }
        #expect(out == bytes)
        var middle: [UInt8] = []
        try await blob.read(5 << 20, (5 << 20) + 10) { middle += $0.readableBytesView }
        #expect(middle == Array(bytes[(5 << 20)..<((5 << 20) + 10)]))
    }
}
