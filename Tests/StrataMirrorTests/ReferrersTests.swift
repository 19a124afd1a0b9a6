import Foundation
import Logging
import StrataCore
import StrataStore
import StrataTesting
import StrataUpstream
import Testing
@testable import StrataMirror

/// The referrers API pulled through, against registries in memory.
@Suite struct ReferrersTests {
    let repo: RepositoryName
    let clock = TestClock()
    let local = MemoryContentStore()
    let subject = ContentHasher.digest(of: Array("image".utf8))

    init() throws {
        repo = try RepositoryName("library/x")
    }

    static func entry(_ name: String, artifactType: String) -> ReferrersIndex.Entry {
        ReferrersIndex.Entry(mediaType: MediaType.ociManifest.value, digest: ContentHasher.digest(of: Array(name.utf8)), size: 100,
                             artifactType: artifactType, annotations: ["name": name])
    }
    static let signature = entry("sig", artifactType: "application/vnd.dev.cosign.artifact.sig.v1+json")
    static let sbom = entry("sbom", artifactType: "application/spdx+json")

    func engine(_ tiers: [(String, MemoryRegistry)], cacheOnly: Bool = false) -> MirrorEngine {
        var logger = Logger(label: "referrers-test")
        logger.logLevel = .critical
        let chain = TierChain(tiers.map { name, registry in
            UpstreamTier(name: name == "canonical" ? .canonical : .mirror(name), client: registry, health: TierHealth(now: clock.closure))
        })
        return MirrorEngine(local: local, configuration: MirrorConfiguration(cacheOnly: cacheOnly, chains: ["docker.io": chain], referrersTTL: 60),
                            logger: logger, now: clock.closure)
    }

    @Test func referrersComeFromTheFirstTierThatAnswersAndAreKeptForTheirTTL() async throws {
        let edge = MemoryRegistry("edge"), canonical = MemoryRegistry("canonical")
        canonical.setReferrers(ReferrersIndex(manifests: [Self.signature]), for: subject)
        let engine = engine([("edge", edge), ("canonical", canonical)])
        let first = try await engine.referrers(registry: "docker.io", repository: repo, subject: subject)
        #expect(first.index.manifests == [Self.signature] && first.tier == .canonical)
        #expect(first.attempts.map(\.outcome) == [.failed(.notFound), .ok])
        // A signature attached later shows once the TTL passed, not before.
        canonical.setReferrers(ReferrersIndex(manifests: [Self.signature, Self.sbom]), for: subject)
        let kept = try await engine.referrers(registry: "docker.io", repository: repo, subject: subject)
        #expect(kept.tier == .local && kept.index.manifests == [Self.signature])
        clock.advance(by: 61)
        let grown = try await engine.referrers(registry: "docker.io", repository: repo, subject: subject)
        #expect(grown.index.manifests == [Self.signature, Self.sbom])
        #expect(canonical.requests.filter { $0.hasPrefix("GET referrers") }.count == 2)
        // The kept list is not a tag of the repository.
        #expect(try await local.tags(registry: "docker.io", repository: repo).isEmpty)
    }

    @Test func theKeptListIsServedStaleWhenEveryTierFailsAndCacheOnlyServesIt() async throws {
        let canonical = MemoryRegistry()
        canonical.setReferrers(ReferrersIndex(manifests: [Self.sbom]), for: subject)
        _ = try await engine([("canonical", canonical)]).referrers(registry: "docker.io", repository: repo, subject: subject)
        canonical.setFault(.down)
        clock.advance(by: 61)
        let stale = try await engine([("canonical", canonical)]).referrers(registry: "docker.io", repository: repo, subject: subject)
        #expect(stale.stale && stale.tier == .stale && stale.index.manifests == [Self.sbom])
        let offline = engine([("canonical", canonical)], cacheOnly: true)
        #expect(try await offline.referrers(registry: "docker.io", repository: repo, subject: subject).index.manifests == [Self.sbom])
        await #expect(throws: MirrorError.referrersNotSupported) {
            _ = try await offline.referrers(registry: "docker.io", repository: repo, subject: ContentHasher.digest(of: [1]))
        }
    }

    @Test func notSupportedEverywhereIsA404AndNeverAnEmptyList() async throws {
        let canonical = MemoryRegistry()
        let engine = engine([("canonical", canonical)])
        for _ in 0..<3 {
            await #expect(throws: MirrorError.referrersNotSupported) {
                _ = try await engine.referrers(registry: "docker.io", repository: repo, subject: subject)
            }
        }
        #expect(canonical.requests.count == 1)
        // A tier that fails is not "not supported".
        let down = MemoryRegistry()
        down.setFault(.down)
        await #expect(throws: MirrorError.tiersFailed) {
            _ = try await self.engine([("canonical", down)]).referrers(registry: "docker.io", repository: repo, subject: subject)
        }
    }

    @Test func filteringByArtifactTypeKeepsOnlyThatType() {
        let index = ReferrersIndex(manifests: [Self.signature, Self.sbom])
        #expect(index.filtered(artifactType: "application/spdx+json").manifests == [Self.sbom])
        #expect(index.filtered(artifactType: nil) == index)
        #expect(ReferrersIndex(parsing: index.bytes) == index)
    }

    /// Finding 8: a 200,000-entry list was kept whole and parsed and encoded again for
    /// every request. What is kept is bounded, and a cached list goes out as its bytes.
    @Test func aHugeListIsKeptBoundedAndServedFromItsBytes() async throws {
        let canonical = MemoryRegistry("canonical")
        let huge = (0..<25_000).map { Self.entry("sig-\($0)", artifactType: "application/vnd.dev.cosign.artifact.sig.v1+json") }
        canonical.setReferrers(ReferrersIndex(manifests: huge), for: subject)
        let engine = engine([("canonical", canonical)])
        let first = try await engine.referrers(registry: "docker.io", repository: repo, subject: subject)
        let kept = first.index.manifests
        #expect(kept.count <= ReferrersIndex.maxEntries && kept.count > 0)
        #expect(first.encoded.count <= ReferrersIndex.maxBytes)
        #expect(kept == Array(huge.prefix(kept.count)), "the first entries, in the tier's order")
        let second = try await engine.referrers(registry: "docker.io", repository: repo, subject: subject)
        #expect(second.tier == .local && second.encoded == first.encoded)
        #expect(canonical.requests.filter { $0.hasPrefix("GET referrers") }.count == 1)
    }

    @Test func boundingCutsByBytesToo() {
        let big = (0..<100).map { n in
            ReferrersIndex.Entry(mediaType: MediaType.ociManifest.value, digest: ContentHasher.digest(of: [UInt8(n)]), size: 1,
                                 artifactType: "a/b", annotations: ["pad": String(repeating: "x", count: 1000)])
        }
        let (bounded, cut) = ReferrersIndex(manifests: big).bounded(maxEntries: 1000, maxBytes: 20_000)
        #expect(cut && bounded.bytes.count <= 20_000 && bounded.manifests.count >= 15)
        #expect(ReferrersIndex(manifests: Array(big.prefix(3))).bounded().cut == false)
    }
}
