import Foundation
import Logging
import NIOCore
import StrataCore
import StrataMirror
import StrataStore
import StrataTesting
import StrataUpstream
import Testing
@testable import StrataObjectStore

/// Finding 7: anyone with the bucket's keys can write an object under a blob's key. One
/// over the size verified on read streamed to every replica without a copy, cut each
/// client at the last byte, and stayed. Now the replica that finds it wrong removes it,
/// and the next fill goes on to the next tier.
@Suite struct PoisonedObjectTests {
    @Test func aPoisonedObjectIsRemovedAndTheNextFillGoesUpstream() async throws {
        let store = try await S3ContentStoreTests.store()
        var logger = Logger(label: "poison")
        logger.logLevel = .critical
        let good = ImageFixture.randomBytes(1 << 20)
        let digest = ContentHasher.digest(of: good)
        var poison = good
        poison[poison.count / 2] ^= 0xFF
        try await store.client.put(store.blobKey(digest), ByteBuffer(bytes: poison))
        let upstream = MemoryRegistry("registry")
        upstream.addBlob(good)

        // The replica's wiring, in small: an engine over the bucket as the first tier of an
        // engine over this replica's own store, the registry after it.
        let shared = MirrorEngine(local: store, configuration: MirrorConfiguration(chains: ["docker.io": TierChain([])]), logger: logger)
        let chain = TierChain([
            UpstreamTier(name: .shared, client: MirrorSource(engine: shared, registry: "docker.io")),
            UpstreamTier(name: .canonical, client: upstream),
        ])
        let replica = MirrorEngine(local: MemoryContentStore(), configuration: MirrorConfiguration(chains: ["docker.io": chain]), logger: logger)
        let repository = try RepositoryName("library/poison")

        func pull() async throws -> [UInt8] {
            var out: [UInt8] = []
            switch try await replica.blob(registry: "docker.io", repository: repository, digest: digest, headOnly: false) {
            case .stored(let blob): try await blob.read(0, blob.size) { out += $0.readableBytesView }
            case .filling(let fill, let size, let lease): try await fill.read(from: 0, to: size, lease: lease) { out += $0.readableBytesView }
            case .upstreamHead: break
            }
            return out
        }
        // The first client is cut: the bucket's bytes are wrong.
        await #expect(throws: (any Error).self) { _ = try await pull() }
        // Removed before the client learnt of the failure.
        #expect(try await store.client.head(store.blobKey(digest)) == nil, "the poisoned object is still in the bucket")
        #expect(upstream.requests.isEmpty)
        // The next fill goes past the bucket to the registry, and gets the right bytes.
        #expect(try await pull() == good)
        #expect(upstream.requests == ["GET blob \(digest)"])
    }
}
