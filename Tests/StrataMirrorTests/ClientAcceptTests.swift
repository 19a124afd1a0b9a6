import Foundation
import Logging
import StrataCore
import StrataStore
import StrataTesting
import StrataUpstream
import Testing
@testable import StrataMirror

/// A client's `Accept` shapes its answer, never the cache: revalidation asks with
/// Strata's own `Accept`, a narrow one is answered from the cached tag by the registry's
/// rules, and only a 404 to Strata's own request deletes a tag, which is kept for the
/// operator. The upstream answers by `Accept` as distribution does.
@Suite struct ClientAcceptTests {
    let repo: RepositoryName
    let clock = TestClock()
    let local = MemoryContentStore()
    static let indexOnly = ManifestAccept(headers: [MediaType.ociIndex.value])
    static let everything = ManifestAccept(headers: MediaType.allManifestTypes.map(\.value))

    init() throws {
        repo = try RepositoryName("library/x")
    }

    /// A registry answering by `Accept` as distribution does, with an image manifest tagged `1`.
    static func registryWithImage(answerByAccept: Bool = true) throws -> (ImageFixture, MemoryRegistry) {
        let image = try ImageFixture.image(layers: [.gzipRandom(1024)])
        let upstream = MemoryRegistry()
        upstream.answerByAccept(answerByAccept)
        upstream.addManifest(image.manifest, mediaType: image.mediaType, tag: "1")
        return (image, upstream)
    }

    func engine(_ upstream: MemoryRegistry, cacheOnly: Bool = false) -> MirrorEngine {
        var logger = Logger(label: "accept-test")
        logger.logLevel = .critical
        let chain = TierChain([UpstreamTier(name: .canonical, client: upstream, health: TierHealth(now: clock.closure))])
        return MirrorEngine(local: local, configuration: MirrorConfiguration(tagTTL: 60, cacheOnly: cacheOnly, chains: ["docker.io": chain]),
                            logger: logger, now: clock.closure)
    }

    func pull(_ engine: MirrorEngine, _ tag: String, _ accept: ManifestAccept) async throws -> ManifestResult {
        try await engine.manifest(registry: "docker.io", repository: repo, reference: .tag(try Tag(tag)), accept: accept)
    }

    func tags() async throws -> [String] {
        try await local.tags(registry: "docker.io", repository: repo).map(\.value)
    }

    @Test func aNarrowAcceptAfterTagTTLNeitherDeletesNorRepointsTheTag() async throws {
        let (image, upstream) = try Self.registryWithImage()
        let engine = engine(upstream)
        _ = try await pull(engine, "1", Self.everything)
        clock.advance(by: 120)
        // The docs' own check: an index-only HEAD of an image manifest. The registry's
        // answer to that client is "not found"; the cache keeps the tag.
        await #expect(throws: MirrorError.manifestNotFound) { _ = try await pull(engine, "1", Self.indexOnly) }
        #expect(try await tags() == ["1"])
        #expect(try await local.deletedTags().isEmpty)
        // The revalidation asked with every manifest type, and found the tag.
        #expect(upstream.requests.suffix(1) == ["HEAD manifest 1"])
        // Revalidated: a full pull within tag_ttl is a cache hit, with no request upstream.
        let before = upstream.requests.count
        let full = try await pull(engine, "1", Self.everything)
        #expect(full.tier == .local && full.digest == image.digest)
        #expect(upstream.requests.count == before)
        // And a narrow Accept within tag_ttl sends nothing upstream either.
        await #expect(throws: MirrorError.manifestNotFound) { _ = try await pull(engine, "1", Self.indexOnly) }
        #expect(upstream.requests.count == before)
    }

    @Test func aNarrowAcceptOnAMissLearnsTheTagForEveryone() async throws {
        let (image, upstream) = try Self.registryWithImage()
        let engine = engine(upstream)
        await #expect(throws: MirrorError.manifestNotFound) { _ = try await pull(engine, "1", Self.indexOnly) }
        // Strata learnt the tag with its own Accept; the next client is served from the cache.
        #expect(try await tags() == ["1"])
        let requests = upstream.requests.count
        #expect(try await pull(engine, "1", Self.everything).tier == .local)
        #expect(upstream.requests.count == requests)
    }

    @Test func aTagMissShowsEachTierOnce() async throws {
        let (image, upstream) = try Self.registryWithImage(answerByAccept: false)
        let served = try await pull(engine(upstream), "1", Self.everything)
        // A HEAD for the digest, then a GET of the manifest: one tier, one attempt.
        #expect(upstream.requests == ["HEAD manifest 1", "GET manifest \(image.digest)"])
        #expect(served.attempts.map(\.description) == ["canonical=ok"])
    }

    @Test func aClientThatTakesNoIndexGetsTheLinuxAmd64Manifest() async throws {
        let list = try ImageFixture.index(format: .docker, platforms: [("linux", "arm64"), ("linux", "amd64")])
        let upstream = MemoryRegistry()
        upstream.answerByAccept()
        upstream.addManifest(list.manifest, mediaType: list.mediaType, tag: "1")
        for child in list.children { upstream.addManifest(child.manifest, mediaType: child.mediaType) }
        let engine = engine(upstream)
        let dockerOnly = ManifestAccept(headers: [MediaType.dockerManifest.value])
        let answered = try await pull(engine, "1", dockerOnly)
        let amd64 = try #require(list.children.last)
        #expect(answered.digest == amd64.digest && answered.bytes == amd64.manifest && answered.mediaType == MediaType.dockerManifest.value)
        // The tag itself points at the list, as every other client sees it.
        #expect(await local.tag(registry: "docker.io", repository: repo, tag: try Tag("1"))?.digest == list.digest)
        #expect(try await pull(engine, "1", Self.everything).digest == list.digest)
        // A client that takes neither the list nor its manifests' type: not found.
        await #expect(throws: MirrorError.manifestNotFound) { _ = try await pull(engine, "1", Self.indexOnly) }
    }

    @Test func inCacheOnlyModeANarrowAcceptChangesNothing() async throws {
        let (image, upstream) = try Self.registryWithImage(answerByAccept: false)
        _ = try await pull(engine(upstream), "1", Self.everything)
        let offline = engine(upstream, cacheOnly: true)
        clock.advance(by: 3600)
        let requests = upstream.requests.count
        await #expect(throws: MirrorError.manifestNotFound) { _ = try await pull(offline, "1", Self.indexOnly) }
        #expect(try await pull(offline, "1", Self.everything).digest == image.digest)
        #expect(try await tags() == ["1"])
        #expect(upstream.requests.count == requests)
    }

    @Test func aTagDeletedUpstreamIsKeptForTheOperatorAndCanBeRestored() async throws {
        let (image, upstream) = try Self.registryWithImage()
        let engine = engine(upstream)
        _ = try await pull(engine, "1", Self.everything)
        upstream.removeTag("1")
        clock.advance(by: 120)
        await #expect(throws: MirrorError.manifestNotFound) { _ = try await pull(engine, "1", Self.everything) }
        #expect(try await tags().isEmpty)
        let deleted = try await engine.deletedTags()
        #expect(deleted.map(\.tag) == ["1"] && deleted.first?.digest == image.digest.description)
        // Restored, it is served from the cache at once, without asking upstream.
        let restored = try await engine.restoreTag(registry: "docker.io", repository: repo, tag: try Tag("1"))
        #expect(restored?.digest == image.digest.description)
        let requests = upstream.requests.count
        #expect(try await pull(engine, "1", Self.everything).tier == .local)
        #expect(upstream.requests.count == requests)
        #expect(try await engine.deletedTags().isEmpty)
        #expect(try await engine.restoreTag(registry: "docker.io", repository: repo, tag: try Tag("1")) == nil)
    }
}
