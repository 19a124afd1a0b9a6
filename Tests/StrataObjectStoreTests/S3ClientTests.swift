import AsyncHTTPClient
import NIOCore
import StrataCore
import StrataTesting
import Testing
@testable import StrataObjectStore

/// The bucket client against a real Ceph RADOS Gateway on loopback.
@Suite(.serialized) struct S3ClientTests {
    static func client(bucket: String = ObjectStoreFixture.bucketName("client"), secret: String? = nil) async throws -> S3Client {
        let endpoint = try await ObjectStoreFixture.shared.endpoint()
        let client = S3Client(.init(endpoint: endpoint.url, bucket: bucket, region: endpoint.region,
                                    accessKey: endpoint.accessKey, secretKey: secret ?? endpoint.secretKey), http: TestHTTPClient.shared)
        if secret == nil { try await client.createBucket() }
        return client
    }

    @Test func objectsGoInAndComeOut() async throws {
        let s3 = try await Self.client()
        let bytes = ImageFixture.randomBytes(300_000)
        let etag = try await s3.put("blobs/sha256/ab", ByteBuffer(bytes: bytes), contentType: "application/x-test")
        #expect(etag?.isEmpty == false)
        #expect(try await s3.head("blobs/sha256/ab") == S3Client.Object(size: 300_000, contentType: "application/x-test", etag: etag))
        #expect(try await s3.get("blobs/sha256/ab")?.bytes == bytes)
        let ranged = try #require(try await s3.getRange("blobs/sha256/ab", 1000..<2000))
        #expect(Array(try await ranged.body.collect(upTo: 1 << 20).readableBytesView) == Array(bytes[1000..<2000]))
        #expect(try await s3.head("blobs/sha256/none") == nil)
        #expect(try await s3.get("blobs/sha256/none") == nil)
        try await s3.delete("blobs/sha256/ab")
        #expect(try await s3.head("blobs/sha256/ab") == nil)
        try await s3.delete("blobs/sha256/ab")
    }

    @Test func createOnlyWritesHaveOneWinner() async throws {
        let s3 = try await Self.client()
        let results = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<8 {
                group.addTask { (try? await s3.put("leases/x", ByteBuffer(string: "owner \(i)"), createOnly: true)) != nil }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.filter { $0 }.count == 1)
        await #expect {
            try await s3.put("leases/x", ByteBuffer(string: "late"), createOnly: true)
        } throws: { ($0 as? ObjectStoreError)?.isPreconditionFailed == true }
        // Compare-and-swap on the ETag.
        let current = try #require(try await s3.head("leases/x")?.etag)
        let next = try await s3.put("leases/x", ByteBuffer(string: "renewed"), ifMatch: current)
        await #expect {
            try await s3.put("leases/x", ByteBuffer(string: "stale"), ifMatch: current)
        } throws: { ($0 as? ObjectStoreError)?.isPreconditionFailed == true }
        #expect(try await s3.head("leases/x")?.etag == next)
    }

    @Test func listingsPageThroughEveryKey() async throws {
        let s3 = try await Self.client()
        for i in 0..<7 { try await s3.put("tags/docker.io/r/\(i)", ByteBuffer(string: "\(i)")) }
        try await s3.put("other/x", ByteBuffer(string: "x"))
        let first = try await s3.list(prefix: "tags/", maxKeys: 3)
        #expect(first.keys.count == 3 && first.nextToken != nil)
        #expect(try await s3.listAll(prefix: "tags/").sorted() == (0..<7).map { "tags/docker.io/r/\($0)" })
    }

    @Test func multipartUploadsAssembleInOrder() async throws {
        let s3 = try await Self.client()
        let bytes = ImageFixture.randomBytes(11 << 20)
        let id = try await s3.createUpload("blobs/big")
        let first = try await s3.uploadPart("blobs/big", uploadID: id, number: 1, ByteBuffer(bytes: bytes[..<(6 << 20)]))
        let second = try await s3.uploadPart("blobs/big", uploadID: id, number: 2, ByteBuffer(bytes: bytes[(6 << 20)...]))
        #expect(try await s3.head("blobs/big") == nil)  // nothing visible before completion
        try await s3.completeUpload("blobs/big", uploadID: id, etags: [first, second])
        #expect(try await s3.get("blobs/big", maxSize: 16 << 20)?.bytes == bytes)
        // An aborted upload leaves nothing.
        let other = try await s3.createUpload("blobs/torn")
        _ = try await s3.uploadPart("blobs/torn", uploadID: other, number: 1, ByteBuffer(bytes: bytes[..<(6 << 20)]))
        await s3.abortUpload("blobs/torn", uploadID: other)
        #expect(try await s3.head("blobs/torn") == nil)
    }

    @Test func theStoreRefusesAWrongSecret() async throws {
        let good = try await Self.client()
        let bad = try await Self.client(bucket: good.configuration.bucket, secret: "not-the-secret-0000000000000000000000000")
        await #expect {
            try await bad.put("x", ByteBuffer(string: "x"))
        } throws: { ($0 as? ObjectStoreError)?.isDenied == true }
    }
}
