import AsyncHTTPClient
import Foundation
import Logging
import NIOPosix
import StrataCore
import StrataStore
import StrataTesting
import StrataUpstream
import Testing
@testable import StrataMirror

/// The engine itself, built here (a store in a temp folder, an in-memory index) over
/// tiers that are in-process fake registries: single-flight, fall-through with resume,
/// stale tags, the negative cache. No real registry, no Strata server.
@Suite(.serialized) struct MirrorEngineTests {
    static let http = TestHTTPClient.shared
    let repo: RepositoryName

    init() throws {
        repo = try RepositoryName("library/x")
    }

    static func engine(tiers: [(String, String)], clock: TestClock = TestClock(), tagTTL: TimeInterval = 600) throws -> MirrorEngine {
        var logger = Logger(label: "engine-test")
        logger.logLevel = .critical
        let store = BlobStore(root: makeTempDirectory("engine"))
        try store.prepare()
        let chain = TierChain(tiers.map { name, url in
            UpstreamTier(name: name == "canonical" ? .canonical : .mirror(name),
                         client: RegistryClient(baseURL: url, http: http, logger: logger, now: clock.closure),
                         health: TierHealth(now: clock.closure))
        })
        return MirrorEngine(store: store, index: try CacheIndex(),
                            configuration: MirrorConfiguration(tagTTL: tagTTL, chains: ["docker.io": chain]),
                            logger: logger, now: clock.closure)
    }

    /// Every byte of a blob answer, as a client would read it.
    static func bytes(_ result: BlobResult) async throws -> [UInt8] {
        var out: [UInt8] = []
        switch result {
        case .stored(let blob):
            try await blob.read(0, blob.size) { out += $0.readableBytesView }
        case .filling(let fill, let size, let lease):
            try await fill.read(from: 0, to: size, lease: lease) { out += $0.readableBytesView }
        case .upstreamHead:
            break
        }
        return out
    }

    @Test func concurrentMissesShareOneUpstreamFetch() async throws {
        let blob = ImageFixture.randomBytes(2 << 20)
        let digest = ContentHasher.digest(of: blob)
        let upstream = FaultyRegistry(blobs: [digest: blob], fault: .none)
        try await upstream.start()
        defer { upstream.stop() }
        let engine = try Self.engine(tiers: [("canonical", upstream.url)])
        let before = upstream.requestCount
        let bodies = try await withThrowingTaskGroup(of: [UInt8].self) { group in
            for _ in 0..<16 {
                group.addTask { try await Self.bytes(engine.blob(registry: "docker.io", repository: repo, digest: digest, headOnly: false)) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(bodies.count == 16 && bodies.allSatisfy { $0 == blob })
        #expect(upstream.requestCount - before == 1)
        // And then it is a cache hit.
        guard case .stored = try await engine.blob(registry: "docker.io", repository: repo, digest: digest, headOnly: false) else {
            Issue.record("not stored after the fill")
            return
        }
    }

    @Test func aTierThatBreaksMidBodyIsFollowedByTheNextWithRange() async throws {
        let blob = ImageFixture.randomBytes(1 << 20)
        let digest = ContentHasher.digest(of: blob)
        let broken = FaultyRegistry(blobs: [digest: blob], fault: .truncate(after: 300_000))
        try await broken.start()
        defer { broken.stop() }
        let good = FaultyRegistry(blobs: [digest: blob], fault: .none)
        try await good.start()
        defer { good.stop() }
        let engine = try Self.engine(tiers: [("edge", broken.url), ("canonical", good.url)])
        let result = try await engine.blob(registry: "docker.io", repository: repo, digest: digest, headOnly: false)
        #expect(try await Self.bytes(result) == blob)
        guard case .filling(let fill, _, _) = result else { return }
        _ = try await fill.waitUntilDone()
        #expect(fill.attempts.map(\.outcome) == [.failed(.transport), .ok])
        #expect(engine.store.lookup(digest)?.size == Int64(blob.count))
    }

    @Test func aTagIsServedStaleWhenEveryTierFails() async throws {
        let manifest = Array(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#.utf8)
        let digest = ContentHasher.digest(of: manifest)
        let upstream = FaultyRegistry(manifests: ["1": (MediaType.ociIndex.value, manifest), digest.description: (MediaType.ociIndex.value, manifest)],
                                      fault: .none)
        try await upstream.start()
        let clock = TestClock()
        let engine = try Self.engine(tiers: [("canonical", upstream.url)], clock: clock, tagTTL: 60)
        let tag = Reference.tag(try Tag("1"))
        let accept = ManifestAccept(headers: [MediaType.ociIndex.value])
        let first = try await engine.manifest(registry: "docker.io", repository: repo, reference: tag, accept: accept)
        #expect(first.bytes == manifest && first.tier == .canonical)
        let fresh = try await engine.manifest(registry: "docker.io", repository: repo, reference: tag, accept: accept)
        #expect(fresh.tier == .cache)
        await upstream.shutdown()
        clock.advance(by: 120)
        let stale = try await engine.manifest(registry: "docker.io", repository: repo, reference: tag, accept: accept)
        #expect(stale.stale && stale.tier == .stale && stale.bytes == manifest)
    }

    @Test func notFoundEverywhereIsRemembered() async throws {
        let upstream = FaultyRegistry(fault: .none)
        try await upstream.start()
        defer { upstream.stop() }
        let engine = try Self.engine(tiers: [("canonical", upstream.url)])
        let digest = ContentHasher.digest(of: [9, 9, 9])
        let before = upstream.requestCount
        for _ in 0..<3 {
            await #expect(throws: MirrorError.self) {
                _ = try await engine.blob(registry: "docker.io", repository: repo, digest: digest, headOnly: false)
            }
        }
        #expect(upstream.requestCount - before == 1)
    }
}
