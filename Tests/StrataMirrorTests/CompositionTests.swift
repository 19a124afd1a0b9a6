import Foundation
import Logging
import StrataCore
import StrataStore
import StrataTesting
import StrataUpstream
import Testing
@testable import StrataMirror

/// Tiers of storage as a composition: edge engines whose one tier is a central engine
/// (through ``MirrorSource``), whose tier is the registry. All in memory.
@Suite struct CompositionTests {
    static func engine(local: any ContentStore, tiers: [(TierName, any ContentSource)]) -> MirrorEngine {
        var logger = Logger(label: "composition-test")
        logger.logLevel = .critical
        let chain = TierChain(tiers.map { UpstreamTier(name: $0.0, client: $0.1) })
        return MirrorEngine(local: local, configuration: MirrorConfiguration(chains: ["docker.io": chain]), logger: logger)
    }

    @Test func twoEdgesOverOneCentralMakeOneRegistryRequestPerBlob() async throws {
        let repo = try RepositoryName("library/app")
        let registry = MemoryRegistry("canonical")
        let blob = ImageFixture.randomBytes(3 << 20)
        let digest = ContentHasher.digest(of: blob)
        registry.addBlob(blob)
        let manifest = Array(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#.utf8)
        registry.addManifest(manifest, mediaType: MediaType.ociIndex.value, tag: "1")
        let centralStore = MemoryContentStore()
        let central = Self.engine(local: centralStore, tiers: [(.canonical, registry)])
        let edges = (0..<2).map { _ in
            Self.engine(local: MemoryContentStore(), tiers: [(.mirror("central"), MirrorSource(engine: central, registry: "docker.io"))])
        }
        registry.closeGate()
        let bodies = try await withThrowingTaskGroup(of: [UInt8].self) { group in
            for edge in edges + edges {
                group.addTask { try await MirrorEngineTests.bytes(edge.blob(registry: "docker.io", repository: repo, digest: digest, headOnly: false)) }
            }
            try await eventually("a request reached the registry") { !registry.requests.isEmpty }
            registry.openGate()
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(bodies.count == 4 && bodies.allSatisfy { $0 == blob })
        #expect(registry.requests == ["GET blob \(digest)"])
        #expect(await centralStore.blob(digest) != nil)
        // The tag, through both levels: the central's path is reported behind the edge's tier.
        let answer = try await edges[0].manifest(registry: "docker.io", repository: repo, reference: .tag(try Tag("1")),
                                                 accept: ManifestAccept(headers: [MediaType.ociIndex.value]))
        #expect(answer.bytes == manifest)
        #expect(answer.path == ["mirror/central", "canonical"])
        // Once the edge has it, neither the central nor the registry is asked again.
        registry.setFault(.down)
        let again = try await edges[1].manifest(registry: "docker.io", repository: repo, reference: .digest(ContentHasher.digest(of: manifest)),
                                                accept: ManifestAccept(headers: [MediaType.ociIndex.value]))
        #expect(again.bytes == manifest)
    }

    @Test func aBlobMissingEverywhereIsNotFoundAtTheEdge() async throws {
        let central = Self.engine(local: MemoryContentStore(), tiers: [(.canonical, MemoryRegistry())])
        let edge = Self.engine(local: MemoryContentStore(), tiers: [(.mirror("central"), MirrorSource(engine: central, registry: "docker.io"))])
        await #expect(throws: MirrorError.blobNotFound) {
            _ = try await edge.blob(registry: "docker.io", repository: try RepositoryName("library/app"),
                                    digest: ContentHasher.digest(of: [1]), headOnly: false)
        }
    }

    /// A tag the central revalidated for one edge is fresh for another edge: freshness
    /// lives with the tag record in the central's store.
    @Test func aTagRevalidatedForOneEdgeIsFreshForAnother() async throws {
        let repo = try RepositoryName("library/app")
        let registry = MemoryRegistry("canonical")
        let manifest = Array(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"a","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":1},"layers":[]}"#.utf8)
        registry.addManifest(manifest, mediaType: MediaType.ociManifest.value, tag: "1")
        let clock = TestClock()
        var logger = Logger(label: "composition-test")
        logger.logLevel = .critical
        func engine(_ local: any ContentStore, _ tiers: [(TierName, any ContentSource)]) -> MirrorEngine {
            MirrorEngine(local: local, configuration: MirrorConfiguration(tagTTL: 60, chains: ["docker.io": TierChain(tiers.map { UpstreamTier(name: $0.0, client: $0.1) })]),
                         logger: logger, now: clock.closure)
        }
        let central = engine(MemoryContentStore(), [(.canonical, registry)])
        let a = engine(MemoryContentStore(), [(.shared, MirrorSource(engine: central, registry: "docker.io"))])
        let b = engine(MemoryContentStore(), [(.shared, MirrorSource(engine: central, registry: "docker.io"))])
        let accept = ManifestAccept(headers: [MediaType.ociManifest.value])
        _ = try await a.manifest(registry: "docker.io", repository: repo, reference: .tag(try Tag("1")), accept: accept)
        clock.advance(by: 120)
        _ = try await a.manifest(registry: "docker.io", repository: repo, reference: .tag(try Tag("1")), accept: accept)
        let heads = registry.requests.filter { $0.hasPrefix("HEAD") }.count
        let fromB = try await b.manifest(registry: "docker.io", repository: repo, reference: .tag(try Tag("1")), accept: accept)
        #expect(fromB.bytes == manifest)
        #expect(registry.requests.filter { $0.hasPrefix("HEAD") }.count == heads, "\(registry.requests)")
    }
}
