import Foundation
import Logging
import StrataCore
import StrataTesting
import StrataUpstream
import Testing
@testable import StrataObjectStore

/// The fill leases in a real Ceph RGW bucket, as the replicas' first tier sees them.
@Suite struct PeerFillSourceTests {
    static func source(_ store: S3ContentStore, me: String) -> PeerFillSource {
        let source = PeerFillSource(store: store, http: TestHTTPClient.shared, instanceID: me, logger: Logger(label: "test"))
        source.advertise(me)
        return source
    }

    static func isFillHere(_ error: UpstreamError) -> Bool { error.kind == .notFound }

    @Test func theFirstReplicaFillsAndTheLeaseNamesIt() async throws {
        let store = try await S3ContentStoreTests.store()
        let digest = ContentHasher.digest(of: ImageFixture.randomBytes(100))
        let a = Self.source(store, me: "http://10.0.0.1:5000")
        let repository = try RepositoryName("library/lease")
        // A gets the lease: "not found here", so it walks on to the upstream tiers.
        let error = await #expect(throws: UpstreamError.self) { try await a.getBlob(repository, digest, from: 0, via: nil) }
        #expect(error.map(Self.isFillHere) == true)
        let held = try await store.acquireLease(digest, owner: "http://10.0.0.2:5000", seconds: 600, now: Date())
        #expect(held?.owner == "http://10.0.0.1:5000")
    }

    /// Anyone with the bucket's keys can write a lease: one naming the cloud metadata
    /// address, or a scheme other than http(s), is never fetched from but taken over.
    @Test(arguments: ["http://169.254.169.254/latest/meta-data", "file:///etc/passwd", "http://0.0.0.0:5000", "not a url"])
    func aLeaseNamingAnAddressNotToFetchFromIsTakenOver(_ owner: String) async throws {
        let store = try await S3ContentStoreTests.store()
        let digest = ContentHasher.digest(of: ImageFixture.randomBytes(100))
        #expect(try await store.acquireLease(digest, owner: owner, seconds: 600, now: Date()) == nil)
        let me = "http://127.0.0.1:1"
        let error = await #expect(throws: UpstreamError.self) {
            try await Self.source(store, me: me).getBlob(try RepositoryName("library/lease"), digest, from: 0, via: nil)
        }
        #expect(error?.kind == .notFound)
        #expect(error?.message.contains("a lease naming a replica not to fetch from") == true, "\(String(describing: error))")
        let now = try await store.acquireLease(digest, owner: "http://10.0.0.9:5000", seconds: 600, now: Date())
        #expect(now?.owner == me)
    }
}
