import Foundation
import Logging
import StrataCore
import StrataStore
import StrataTesting
import StrataUpstream
import Testing
@testable import StrataMirror

/// The engine itself, over a store in memory and tiers that are registries in memory:
/// single-flight, fall-through with resume, stale tags, the negative cache, a full
/// disk, bad bytes. No socket, no file, no real registry.
@Suite struct MirrorEngineTests {
    let repo: RepositoryName
    let clock = TestClock()
    let local: MemoryContentStore

    init() throws {
        repo = try RepositoryName("library/x")
        local = MemoryContentStore()
    }

    init(capacity: Int64) throws {
        repo = try RepositoryName("library/x")
        local = MemoryContentStore(capacity: capacity)
    }

    func engine(_ tiers: [(String, MemoryRegistry)], tagTTL: TimeInterval = 600) -> MirrorEngine {
        var logger = Logger(label: "engine-test")
        logger.logLevel = .critical
        let chain = TierChain(tiers.map { name, registry in
            UpstreamTier(name: name == "canonical" ? .canonical : .mirror(name), client: registry, health: TierHealth(now: clock.closure))
        })
        return MirrorEngine(local: local, configuration: MirrorConfiguration(tagTTL: tagTTL, chains: ["docker.io": chain]),
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

    func pull(_ engine: MirrorEngine, _ digest: Digest) async throws -> [UInt8] {
        try await Self.bytes(engine.blob(registry: "docker.io", repository: repo, digest: digest, headOnly: false))
    }

    static let index = Array(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#.utf8)
    static let accept = ManifestAccept(headers: [MediaType.ociIndex.value])

    @Test func concurrentMissesShareOneUpstreamFetch() async throws {
        let blob = ImageFixture.randomBytes(2 << 20)
        let digest = ContentHasher.digest(of: blob)
        let upstream = MemoryRegistry()
        upstream.addBlob(blob)
        upstream.closeGate()
        let engine = engine([("canonical", upstream)])
        let bodies = try await withThrowingTaskGroup(of: [UInt8].self) { group in
            for _ in 0..<16 { group.addTask { try await pull(engine, digest) } }
            // Every client has joined the one fill before upstream answers.
            try await eventually("the fill reached upstream") { engine.fillsInFlight != 0 && !upstream.requests.isEmpty }
            upstream.openGate()
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(bodies.count == 16 && bodies.allSatisfy { $0 == blob })
        #expect(upstream.requests == ["GET blob \(digest)"])
        guard case .stored = try await engine.blob(registry: "docker.io", repository: repo, digest: digest, headOnly: false) else {
            Issue.record("not stored after the fill")
            return
        }
        #expect(local.isDurable(digest))
        #expect(upstream.requests.count == 1)
    }

    @Test func aTierThatBreaksMidBodyIsFollowedByTheNextWithRange() async throws {
        let blob = ImageFixture.randomBytes(1 << 20)
        let digest = ContentHasher.digest(of: blob)
        let broken = MemoryRegistry("edge"), good = MemoryRegistry("canonical")
        broken.addBlob(blob)
        broken.setFault(.truncate(after: 300_000))
        good.addBlob(blob)
        let engine = engine([("edge", broken), ("canonical", good)])
        let result = try await engine.blob(registry: "docker.io", repository: repo, digest: digest, headOnly: false)
        #expect(try await Self.bytes(result) == blob)
        guard case .filling(let fill, _, _) = result else { Issue.record("not a fill"); return }
        _ = try await fill.waitUntilDone()
        // The edge broke after 300,000 bytes, was asked again from there and had nothing more.
        #expect(fill.attempts.map(\.outcome) == [.failed(.transport), .failed(.transport), .ok])
        #expect(fill.attempts.map(\.tier) == [.mirror("edge"), .mirror("edge"), .canonical])
        #expect(broken.blobOffsets == [0, 300_000])
        // The next tier was asked only for what was missing.
        #expect(good.blobOffsets == [300_000])
        #expect(await local.blob(digest)?.blob.size == Int64(blob.count))
    }

    @Test func aBodyThatBreaksIsAskedOfTheSameTierAgainFromWhereItBroke() async throws {
        let blob = ImageFixture.randomBytes(1 << 20)
        let digest = ContentHasher.digest(of: blob)
        let only = MemoryRegistry("canonical")
        only.addBlob(blob)
        only.setFault(.breaks(times: 2, after: 300_000))
        let engine = engine([("canonical", only)])
        let result = try await engine.blob(registry: "docker.io", repository: repo, digest: digest, headOnly: false)
        #expect(try await Self.bytes(result) == blob)
        guard case .filling(let fill, _, _) = result else { Issue.record("not a fill"); return }
        _ = try await fill.waitUntilDone()
        #expect(fill.attempts.map(\.outcome) == [.failed(.transport), .failed(.transport), .ok])
        #expect(only.blobOffsets == [0, 300_000, 600_000])
        #expect(await local.blob(digest)?.blob.size == Int64(blob.count))
    }

    @Test func aTierThatKeepsBreakingIsLeftAfterTwoRetries() async throws {
        let blob = ImageFixture.randomBytes(1 << 20)
        let digest = ContentHasher.digest(of: blob)
        let only = MemoryRegistry("canonical")
        only.addBlob(blob)
        only.setFault(.breaks(times: 10, after: 100_000))
        let engine = engine([("canonical", only)])
        // The client is cut off short of the end (or finds the fill already failed):
        // never a complete body that is not the blob.
        await #expect(throws: (any Error).self) {
            _ = try await Self.bytes(try await engine.blob(registry: "docker.io", repository: self.repo, digest: digest, headOnly: false))
        }
        #expect(only.blobOffsets == [0, 100_000, 200_000])
        #expect(await local.blob(digest) == nil)
    }

    func rangedEngine(_ upstream: MemoryRegistry, connections: Int = 4) -> MirrorEngine {
        var logger = Logger(label: "engine-test")
        logger.logLevel = .critical
        let chain = TierChain([UpstreamTier(name: .canonical, client: upstream, health: TierHealth(now: clock.closure))])
        return MirrorEngine(local: local, configuration: MirrorConfiguration(
            // Memory is fast: judged as a slow link, so that the parts are used.
            chains: ["docker.io": chain], rangedFill: RangedFillSettings(threshold: 8 << 20, connections: connections, fastEnough: .infinity)),
            logger: logger, now: clock.closure)
    }

    @Test func aLargeBlobIsFetchedInParallelRangesAndVerifiedWhole() async throws {
        let blob = ImageFixture.randomBytes(16 << 20)
        let digest = ContentHasher.digest(of: blob)
        let upstream = MemoryRegistry()
        upstream.addBlob(blob)
        upstream.serveRanges()
        let engine = rangedEngine(upstream)
        let result = try await engine.blob(registry: "docker.io", repository: repo, digest: digest, headOnly: false)
        #expect(try await Self.bytes(result) == blob)
        // The first part comes from the whole-blob GET that told the size (it carried the
        // blob while it was judged), the rest as three ranges that end where the blob does.
        let ranges = upstream.blobRanges.sorted { $0.lowerBound < $1.lowerBound }
        #expect((1...3).contains(ranges.count), "\(ranges)")
        #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound } && ranges.last?.upperBound == 16 << 20)
        #expect((ranges.first?.lowerBound ?? 0) > 2 << 20, "the first answer carried at least the 2 MiB it was judged on")
        #expect(upstream.blobOffsets == [0])
        #expect(await local.blob(digest)?.blob.size == Int64(blob.count))
        // Below the threshold, or from a tier without ranges: one GET.
        let small = ImageFixture.randomBytes(1 << 20)
        upstream.addBlob(small)
        _ = try await Self.bytes(engine.blob(registry: "docker.io", repository: repo, digest: ContentHasher.digest(of: small), headOnly: false))
        #expect(upstream.blobRanges.count == ranges.count)
        #expect(upstream.blobOffsets == [0, 0])
    }

    @Test func aPartThatBreaksIsAskedAgainFromWhereItBroke() async throws {
        let blob = ImageFixture.randomBytes(16 << 20)
        let digest = ContentHasher.digest(of: blob)
        let upstream = MemoryRegistry()
        upstream.addBlob(blob)
        upstream.serveRanges()
        // The whole-blob GET that finds the size, and the request after it: both break after 1 MiB.
        upstream.setFault(.breaks(times: 2, after: 1 << 20))
        let engine = rangedEngine(upstream, connections: 1 + 3)
        let result = try await engine.blob(registry: "docker.io", repository: repo, digest: digest, headOnly: false)
        #expect(try await Self.bytes(result) == blob)
        // The first answer was asked again from the byte where it broke, and so was the second.
        let ranges = upstream.blobRanges
        #expect(ranges.contains { $0.lowerBound == 1 << 20 }, "\(ranges)")
        #expect(ranges.contains { first in ranges.contains { $0.lowerBound == first.lowerBound + (1 << 20) } }, "\(ranges)")
        #expect(await local.blob(digest) != nil)
    }

    @Test func wrongBytesInAPartAreNeverStoredNorCompleted() async throws {
        let blob = ImageFixture.randomBytes(16 << 20)
        let digest = ContentHasher.digest(of: blob)
        let upstream = MemoryRegistry()
        upstream.addBlob(blob)
        upstream.serveRanges()
        upstream.setFault(.wrongBytes)
        let engine = rangedEngine(upstream)
        let result = try await engine.blob(registry: "docker.io", repository: repo, digest: digest, headOnly: false)
        await #expect(throws: (any Error).self) { _ = try await Self.bytes(result) }
        #expect(upstream.blobRanges.count == 3)
        #expect(await local.blob(digest) == nil)
    }

    @Test func badBytesAreNeverStoredNorCompleted() async throws {
        let blob = ImageFixture.randomBytes(600_000)
        let digest = ContentHasher.digest(of: blob)
        let upstream = MemoryRegistry()
        upstream.addBlob(blob)
        upstream.setFault(.wrongBytes)
        let engine = engine([("canonical", upstream)])
        var received: [UInt8] = []
        // The fill fails its digest while the client reads, or before the client joined it.
        await #expect(throws: (any Error).self) {
            let result = try await engine.blob(registry: "docker.io", repository: repo, digest: digest, headOnly: false)
            guard case .filling(let fill, let size, let lease) = result else { return }
            try await fill.read(from: 0, to: size, lease: lease) { received += $0.readableBytesView }
        }
        #expect(received.count < blob.count)
        #expect(await local.blob(digest) == nil)
    }

    @Test func aFullDiskPassesTheBlobThroughUnstored() async throws {
        let suite = try MirrorEngineTests(capacity: 256 << 10)
        let blob = ImageFixture.randomBytes(1 << 20)
        let digest = ContentHasher.digest(of: blob)
        let upstream = MemoryRegistry()
        upstream.addBlob(blob)
        let engine = suite.engine([("canonical", upstream)])
        let result = try await engine.blob(registry: "docker.io", repository: repo, digest: digest, headOnly: false)
        #expect(try await Self.bytes(result) == blob)
        guard case .filling(let fill, _, _) = result else { Issue.record("not a fill"); return }
        #expect(fill.notCachedReason == "not cached: disk full")
        #expect(await suite.local.blob(digest) == nil)
    }

    @Test func aTagIsServedStaleWhenEveryTierFails() async throws {
        let upstream = MemoryRegistry()
        upstream.addManifest(Self.index, mediaType: MediaType.ociIndex.value, tag: "1")
        let engine = engine([("canonical", upstream)], tagTTL: 60)
        let tag = Reference.tag(try Tag("1"))
        let first = try await engine.manifest(registry: "docker.io", repository: repo, reference: tag, accept: Self.accept)
        #expect(first.bytes == Self.index && first.tier == .canonical)
        let fresh = try await engine.manifest(registry: "docker.io", repository: repo, reference: tag, accept: Self.accept)
        #expect(fresh.tier == .local)
        #expect(upstream.requests == ["HEAD manifest 1", "GET manifest \(ContentHasher.digest(of: Self.index))"])
        upstream.setFault(.down)
        clock.advance(by: 120)
        let stale = try await engine.manifest(registry: "docker.io", repository: repo, reference: tag, accept: Self.accept)
        #expect(stale.stale && stale.tier == .stale && stale.bytes == Self.index)
    }

    @Test func anExpiredTagWhoseDigestIsCachedCostsOneHead() async throws {
        let upstream = MemoryRegistry()
        upstream.addManifest(Self.index, mediaType: MediaType.ociIndex.value, tag: "1")
        let engine = engine([("canonical", upstream)], tagTTL: 60)
        let tag = Reference.tag(try Tag("1"))
        _ = try await engine.manifest(registry: "docker.io", repository: repo, reference: tag, accept: Self.accept)
        clock.advance(by: 120)
        let again = try await engine.manifest(registry: "docker.io", repository: repo, reference: tag, accept: Self.accept)
        #expect(again.tier == .local && again.bytes == Self.index)
        #expect(upstream.requests.filter { $0.hasPrefix("GET") }.count == 1)
        #expect(upstream.requests.filter { $0.hasPrefix("HEAD") }.count == 2)
    }

    @Test func aManifestWithTheWrongDigestFallsToTheNextTier() async throws {
        let liar = MemoryRegistry("edge"), good = MemoryRegistry("canonical")
        let digest = ContentHasher.digest(of: Self.index)
        // The edge answers the digest with other bytes.
        let other = Array(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],"x":1}"#.utf8)
        liar.addManifest(other, mediaType: MediaType.ociIndex.value, tag: digest.description)
        good.addManifest(Self.index, mediaType: MediaType.ociIndex.value)
        let engine = engine([("edge", liar), ("canonical", good)])
        let result = try await engine.manifest(registry: "docker.io", repository: repo, reference: .digest(digest), accept: Self.accept)
        #expect(result.bytes == Self.index && result.tier == .canonical)
        #expect(result.attempts.map(\.outcome) == [.failed(.invalidResponse), .ok])
        #expect(await local.manifest(digest)?.bytes == Self.index)
    }

    @Test func notFoundEverywhereIsRemembered() async throws {
        let upstream = MemoryRegistry()
        let engine = engine([("canonical", upstream)])
        let digest = ContentHasher.digest(of: [9, 9, 9])
        for _ in 0..<3 {
            await #expect(throws: MirrorError.blobNotFound) {
                _ = try await engine.blob(registry: "docker.io", repository: repo, digest: digest, headOnly: false)
            }
        }
        #expect(upstream.requests.count == 1)
        // A failing tier is not "not found": nothing is remembered.
        let down = MemoryRegistry()
        down.setFault(.down)
        let other = self.engine([("canonical", down)])
        for _ in 0..<2 {
            await #expect(throws: MirrorError.tiersFailed) {
                _ = try await other.blob(registry: "docker.io", repository: repo, digest: digest, headOnly: false)
            }
        }
        #expect(down.requests.count == 2)
    }

    /// Bytes that fail verification count against the tier that sent them, and its
    /// source is told (a bucket quarantines the object, the leases pass the holder over).
    @Test func wrongBytesAreToldToTheTierThatSentThem() async throws {
        let blob = ImageFixture.randomBytes(100_000)
        let digest = ContentHasher.digest(of: blob)
        let liar = MemoryRegistry("liar")
        liar.addBlob(blob)
        liar.setFault(.wrongBytes)
        let engine = engine([("canonical", liar)])
        await #expect(throws: (any Error).self) { _ = try await pull(engine, digest) }
        try await eventually("the tier was told") { !liar.rejected.isEmpty }
        #expect(liar.rejected == [digest])
        let health = try #require(engine.configuration.chains["docker.io"]?.tiers.first?.health)
        #expect(health.snapshot.failures == 1 && health.snapshot.lastError?.contains("failed verification") == true)
    }

    @Test func aCachedBlobIsServedWithoutAskingUpstream() async throws {
        let blob = ImageFixture.randomBytes(300_000)
        let digest = ContentHasher.digest(of: blob)
        let upstream = MemoryRegistry()
        upstream.addBlob(blob)
        let engine = engine([("canonical", upstream)])
        #expect(try await pull(engine, digest) == blob)
        upstream.setFault(.down)
        #expect(try await pull(engine, digest) == blob)
        #expect(upstream.requests.count == 1)
        #expect(local.accesses(digest) == 1)
    }
}
