import Foundation
import Logging
import StrataCore
import StrataStore
import StrataTesting
import StrataUpstream
import Testing
@testable import StrataMirror

/// Tags deleted upstream and tag lists asked of the tiers, against registries in memory.
@Suite struct TagListAndDeletionTests {
    let repo: RepositoryName
    let clock = TestClock()
    let local = MemoryContentStore()
    static let index = MirrorEngineTests.index
    static let accept = MirrorEngineTests.accept

    init() throws {
        repo = try RepositoryName("library/x")
    }

    func engine(_ upstream: MemoryRegistry, tagTTL: TimeInterval = 60, keepDeletedTags: Bool = false, cacheOnly: Bool = false) -> MirrorEngine {
        var logger = Logger(label: "tags-test")
        logger.logLevel = .critical
        let chain = TierChain([UpstreamTier(name: .canonical, client: upstream, health: TierHealth(now: clock.closure))])
        return MirrorEngine(local: local, configuration: MirrorConfiguration(
            tagTTL: tagTTL, cacheOnly: cacheOnly, chains: ["docker.io": chain], keepDeletedTags: keepDeletedTags),
            logger: logger, now: clock.closure)
    }

    func pullTag(_ engine: MirrorEngine, _ tag: String) async throws -> ManifestResult {
        try await engine.manifest(registry: "docker.io", repository: repo, reference: .tag(try Tag(tag)), accept: Self.accept)
    }

    @Test func aTagDeletedUpstreamAnswers404AndLeavesTheCacheTagList() async throws {
        let upstream = MemoryRegistry()
        upstream.addManifest(Self.index, mediaType: MediaType.ociIndex.value, tag: "1")
        upstream.addManifest(Self.index, mediaType: MediaType.ociIndex.value, tag: "2")
        let engine = engine(upstream)
        _ = try await pullTag(engine, "1")
        _ = try await pullTag(engine, "2")
        #expect(try await local.tags(registry: "docker.io", repository: repo).map(\.value) == ["1", "2"])
        upstream.removeTag("1")
        clock.advance(by: 120)
        let before = upstream.requests.count
        for _ in 0..<5 {
            await #expect(throws: MirrorError.manifestNotFound) { _ = try await pullTag(engine, "1") }
        }
        // One HEAD found it gone; the verdict holds for tag_ttl.
        #expect(upstream.requests.count - before == 1)
        #expect(try await local.tags(registry: "docker.io", repository: repo).map(\.value) == ["2"])
        // The manifest itself stays, by digest, until evicted.
        let digest = ContentHasher.digest(of: Self.index)
        let byDigest = try await engine.manifest(registry: "docker.io", repository: repo, reference: .digest(digest), accept: Self.accept)
        #expect(byDigest.tier == .local)
        // Past tag_ttl the tiers are asked again: a tag pushed again is served again.
        upstream.addManifest(Self.index, mediaType: MediaType.ociIndex.value, tag: "1")
        clock.advance(by: 61)
        #expect(try await pullTag(engine, "1").bytes == Self.index)
    }

    @Test func withDeletedTagsKeptTheTagIsServedStaleAndUpstreamIsAskedOncePerTTL() async throws {
        let upstream = MemoryRegistry()
        upstream.addManifest(Self.index, mediaType: MediaType.ociIndex.value, tag: "1")
        let engine = engine(upstream, keepDeletedTags: true)
        _ = try await pullTag(engine, "1")
        upstream.removeTag("1")
        clock.advance(by: 120)
        let before = upstream.requests.count
        for _ in 0..<5 {
            let served = try await pullTag(engine, "1")
            #expect(served.stale && served.tier == .stale && served.bytes == Self.index)
        }
        #expect(upstream.requests.count - before == 1)
        #expect(try await local.tags(registry: "docker.io", repository: repo).map(\.value) == ["1"])
        clock.advance(by: 61)
        _ = try await pullTag(engine, "1")
        #expect(upstream.requests.count - before == 2)
    }

    @Test func aFailingTierIsNotADeletion() async throws {
        let upstream = MemoryRegistry()
        upstream.addManifest(Self.index, mediaType: MediaType.ociIndex.value, tag: "1")
        let engine = engine(upstream)
        _ = try await pullTag(engine, "1")
        upstream.setFault(.down)
        clock.advance(by: 120)
        #expect(try await pullTag(engine, "1").stale)
        #expect(try await local.tags(registry: "docker.io", repository: repo).map(\.value) == ["1"])
    }

    @Test func aTagListComesFromTheTiersAndIsKeptForTheTagTTL() async throws {
        let upstream = MemoryRegistry()
        upstream.addManifest(Self.index, mediaType: MediaType.ociIndex.value, tag: "b")
        upstream.addManifest(Self.index, mediaType: MediaType.ociIndex.value, tag: "a")
        let engine = engine(upstream)
        // Nothing of the repository is cached.
        let first = try await engine.tagList(registry: "docker.io", repository: repo)
        #expect(first.tags.map(\.value) == ["a", "b"] && first.tier == .canonical && !first.stale)
        upstream.addManifest(Self.index, mediaType: MediaType.ociIndex.value, tag: "c")
        let again = try await engine.tagList(registry: "docker.io", repository: repo)
        #expect(again.tags.map(\.value) == ["a", "b"] && again.tier == .local)
        #expect(upstream.requests == ["GET tags"])
        clock.advance(by: 61)
        #expect(try await engine.tagList(registry: "docker.io", repository: repo).tags.map(\.value) == ["a", "b", "c"])
        // Every tier failing: the last list, marked stale.
        upstream.setFault(.down)
        clock.advance(by: 61)
        let stale = try await engine.tagList(registry: "docker.io", repository: repo)
        #expect(stale.stale && stale.tags.map(\.value) == ["a", "b", "c"])
    }

    @Test func aTagListFallsBackToTheCachedTagsAndCacheOnlyListsOnlyThem() async throws {
        let upstream = MemoryRegistry()
        upstream.addManifest(Self.index, mediaType: MediaType.ociIndex.value, tag: "1")
        upstream.addManifest(Self.index, mediaType: MediaType.ociIndex.value, tag: "2")
        _ = try await pullTag(engine(upstream), "1")
        // A new process (no list remembered) with the tier down: the cached tags.
        upstream.setFault(.down)
        let restarted = engine(upstream)
        let listed = try await restarted.tagList(registry: "docker.io", repository: repo)
        #expect(listed.stale && listed.tags.map(\.value) == ["1"])
        upstream.setFault(.none)
        let requests = upstream.requests.count
        let cacheOnly = engine(upstream, cacheOnly: true)
        #expect(try await cacheOnly.tagList(registry: "docker.io", repository: repo).tags.map(\.value) == ["1"])
        #expect(upstream.requests.count == requests)
        await #expect(throws: MirrorError.repositoryNotFound) {
            _ = try await cacheOnly.tagList(registry: "docker.io", repository: try RepositoryName("library/other"))
        }
    }

    @Test func aRepositoryNoTierKnowsIs404AndRemembered() async throws {
        let upstream = MemoryRegistry()
        let engine = engine(upstream)
        for _ in 0..<3 {
            await #expect(throws: MirrorError.repositoryNotFound) {
                _ = try await engine.tagList(registry: "docker.io", repository: repo)
            }
        }
        #expect(upstream.requests == ["GET tags"])
    }

    /// Finding 9: the memo was bounded by repositories (60 of 100,000 tags took RSS from
    /// 43 to 139 MB; the cap allowed ~16 GB). It is bounded by the bytes it holds.
    @Test func theTagListMemoIsBoundedByBytes() throws {
        let memo = TagListMemo(capacity: 1 << 20)
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        for n in 0..<60 {
            let tags = try (0..<2000).map { try Tag("v\(n)-\(String(format: "%05d", $0))-build") }
            memo.remember(TagListMemo.Entry(tags: tags, fetchedAt: t0.addingTimeInterval(Double(n)), tier: .canonical, path: ["canonical"]),
                          for: "docker.io/library/r\(n)")
            #expect(memo.weight <= 1 << 20, "after \(n + 1) lists")
        }
        #expect(memo["docker.io/library/r59"]?.tags.count == 2000, "the newest list is kept")
        #expect(memo["docker.io/library/r0"] == nil, "the oldest went")
        // A single list larger than the bound is served, not kept.
        let huge = try (0..<40_000).map { try Tag("tag-\($0)-with-a-long-suffix") }
        memo.remember(TagListMemo.Entry(tags: huge, fetchedAt: t0.addingTimeInterval(100), tier: .canonical, path: []), for: "docker.io/library/huge")
        #expect(memo["docker.io/library/huge"] == nil && memo.weight <= 1 << 20)
    }
}
