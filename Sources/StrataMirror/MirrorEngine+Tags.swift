import Foundation
import StrataCore
import StrataUpstream

/// A repository's tags, as `tags/list` answers them.
public struct TagListResult: Sendable {
    public let tags: [Tag]
    public let tier: TierName
    /// The tiers failed: this is the last list one answered, or the cache's own tags.
    public let stale: Bool
    public let attempts: [TierAttempt]
    public let path: [String]
}

/// Tag lists come from the tiers, like a tag: asked for again once `tag_ttl` passed,
/// the last answer (else the cached tags) when every tier fails, the cached tags alone
/// in cache-only mode. "Not found" from every tier is a `404`, remembered for a while.
extension MirrorEngine {
    public func tagList(registry: String, repository: RepositoryName, via: String? = nil) async throws(MirrorError) -> TagListResult {
        if configuration.cacheOnly {
            let cached = await cachedTags(registry: registry, repository: repository)
            guard !cached.isEmpty else {
                throw MirrorError.repositoryNotFound.saying("repository \(repository) has no cached tags, and this mirror is in cache-only mode")
            }
            return TagListResult(tags: cached, tier: .local, stale: false, attempts: [], path: ["local"])
        }
        let key = "\(registry)/\(repository)"
        if let known = tagLists[key], freshness.decide(fetchedAt: known.fetchedAt, now: now()) == .fresh {
            return TagListResult(tags: known.tags, tier: .local, stale: false, attempts: [], path: ["local"])
        }
        let negativeKey = "\(key)|tags"
        if negative.contains(negativeKey) {
            throw MirrorError.repositoryNotFound.saying("repository \(repository) not found in any tier (remembered for \(Int(negative.ttl))s)")
        }
        let chain = try chain(for: registry)
        do {
            return try await tagListFlights.run(key) {
                try await self.listTags(registry: registry, repository: repository, key: key, chain: chain, via: via)
            }
        } catch let error as MirrorError {
            throw error
        } catch {
            throw MirrorError.unavailable.saying("the cache failed to answer (the server log says why)", cause: error)
        }
    }

    private func listTags(
        registry: String, repository: RepositoryName, key: String, chain: TierChain, via: String?
    ) async throws(MirrorError) -> TagListResult {
        do {
            let listed = try await chain.first { tier throws(UpstreamError) in
                try await tier.client.listTags(repository, via: via)
            }
            let tier = chain.tiers[listed.tierIndex].name
            let path = [tier.description] + listed.value.remotePath
            tagLists.remember(TagListMemo.Entry(tags: listed.value.tags, fetchedAt: now(), tier: tier, path: path), for: key)
            return TagListResult(tags: listed.value.tags, tier: tier, stale: false, attempts: listed.attempts, path: path)
        } catch {
            if error.allNotFound {
                negative.insert("\(key)|tags")
                throw MirrorError.repositoryNotFound.saying("repository \(repository) not found in any tier", attempts: error.attempts)
            }
            if let known = tagLists[key] {
                return TagListResult(tags: known.tags, tier: .stale, stale: true, attempts: error.attempts, path: ["stale"])
            }
            let cached = await cachedTags(registry: registry, repository: repository)
            if !cached.isEmpty {
                return TagListResult(tags: cached, tier: .stale, stale: true, attempts: error.attempts, path: ["stale"])
            }
            throw exhausted(error, what: "tags of \(repository)", unknown: .repositoryNotFound)
        }
    }

    private func cachedTags(registry: String, repository: RepositoryName) async -> [Tag] {
        (try? await local.tags(registry: registry, repository: repository)) ?? []
    }
}
