import ArgumentParser
import Foundation
import NIOHTTP1
import StrataAdminModel
import StrataCore

/// `strata status`: tiers, hit ratio and cache size, from the admin API.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show tiers, hit ratio and cache size of a running Strata.")

    @OptionGroup var options: AdminOptions
    @Flag(name: .long, help: "Print JSON for scripts.") var json = false

    struct Tiers: Codable { let instanceID: String; let mode: String?; let tiers: [TierStatus] }
    struct Combined: Codable { let stats: LedgerStats; let tiers: Tiers; let cache: CacheSummary }

    func run() async throws {
        try await runReporting {
            let client = AdminClient(options: options)
            let stats = try await client.decode(LedgerStats.self, "/api/stats")
            let tiers = try await client.decode(Tiers.self, "/api/tiers")
            let cache = try await client.decode(CacheSummary.self, "/api/cache")
            if json {
                Output.write(try jsonText(Combined(stats: stats, tiers: tiers, cache: cache)))
                return
            }
            var out = "Strata strata-\(tiers.instanceID) at \(options.url), up since \(ISO8601DateFormatter().string(from: stats.since))\n"
            if tiers.mode == "cache-only" { out += "Mode: cache-only: serves what is cached, never contacts a tier\n" }
            out += "Requests: \(stats.total.requests), hit ratio \(Format.percent(stats.total.hitRatio)) "
            out += "(last 5 min: \(stats.last5m.requests) requests, \(Format.percent(stats.last5m.hitRatio)))\n"
            out += "Served \(Format.bytes(stats.total.bytes)); upstream bytes saved \(Format.bytes(stats.total.upstreamBytesSaved))\n"
            out += "Cache: \(cache.repositories.count) repositories, \(cache.blobs) blobs, \(Format.bytes(cache.storedBytes)) on disk "
            if let bound = cache.maxBytes, bound > 0 {
                out += "of \(Format.bytes(bound)) (\(Format.percent(Double(cache.storedBytes) / Double(bound)))) "
            }
            out += "for \(Format.bytes(cache.contentBytes)) of content\n\n"
            var served = Table(headers: ["SERVED BY", "REQUESTS", "BYTES", "LAST 5 MIN", "LAST HOUR"])
            for tier in stats.total.tiers.keys.sorted() {
                var requests = stats.total.tiers[tier]?.requests ?? 0, five = stats.last5m.tiers[tier]?.requests ?? 0
                var hour = stats.last1h.tiers[tier]?.requests ?? 0
                // Version checks (`GET /v2/`) are served by no tier: counted apart, as the dashboard does.
                if tier == "none" {
                    requests -= stats.total.pings
                    five -= stats.last5m.pings
                    hour -= stats.last1h.pings
                    if requests == 0 && five == 0 && hour == 0 { continue }
                }
                served.rows.append([tier, "\(requests)", Format.bytes(stats.total.tiers[tier]?.bytes ?? 0), "\(five)", "\(hour)"])
            }
            out += served.render()
            out += "And \(stats.total.pings) API version checks (GET /v2/), which no tier serves.\n\n"
            var health = Table(headers: ["TIER", "REGISTRY", "URL", "BREAKER", "LATENCY", "OK", "FAILED", "RATE LIMIT", "LAST ERROR"])
            for tier in tiers.tiers {
                health.rows.append([tier.name, tier.registry, tier.url, tier.breaker + (tier.misconfigured ? " (credentials refused)" : ""),
                                    tier.latencySeconds.map { String(format: "%.0f ms", $0 * 1000) } ?? "-",
                                    "\(tier.successes)", "\(tier.failures)", tier.rateLimitBudget.isEmpty ? "-" : tier.rateLimitBudget, tier.lastError ?? "-"])
            }
            out += health.render()
            Output.write(out, terminator: "")
        }
    }
}

/// `strata ls [REPO]`: cached repositories, or one repository's tags.
struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List cached repositories, or one repository's tags and digests.")

    @OptionGroup var options: AdminOptions
    @Flag(name: .long, help: "Print JSON for scripts.") var json = false
    @Option(name: .long, help: "Only this registry (docker.io, ghcr.io, ...).") var registry: String?
    @Flag(name: .long, help: "List the tags upstream deleted, with the digest each last pointed at (strata restore-tag puts one back).") var deleted = false
    @Argument(help: "A repository as pulled: alpine, library/alpine, docker.io/library/alpine, ghcr.io/org/app.") var repository: String?

    func run() async throws {
        try await runReporting {
            let client = AdminClient(options: options)
            if deleted {
                try await listDeleted(client)
                return
            }
            var registry = self.registry
            var path = "/api/cache"
            if let repository {
                // Named as a client pulls it (or as `strata ls` prints it): the registry, if the
                // name has one, and Docker Hub's `library/`.
                guard let parsed = ImageReference(parsing: repository, defaultRegistry: registry ?? "docker.io") else {
                    throw CommandFailure("\(repository) is not a repository name")
                }
                let first = repository.split(separator: "/", maxSplits: 1).first ?? ""
                if repository.contains("/") && (first.contains(".") || first.contains(":") || first == "localhost") {
                    registry = parsed.registry
                }
                path += "/\(parsed.repository.value)"
            }
            if let registry { path += "?registry=\(registry)" }
            let cache = try await client.decode(CacheSummary.self, path)
            if json {
                Output.write(try jsonText(cache))
                return
            }
            if repository == nil {
                var table = Table(headers: ["REPOSITORY", "TAGS", "MANIFESTS", "SIZE", "STORED", "LAST ACCESS"])
                for repo in cache.repositories {
                    table.rows.append(["\(repo.registry)/\(repo.repository)", "\(repo.tags.count)", "\(repo.manifests)",
                                       Format.bytes(repo.size), Format.bytes(repo.storedSize), Format.age(repo.lastAccess)])
                }
                Output.write(table.render(), terminator: "")
                return
            }
            var table = Table(headers: ["REPOSITORY", "TAG", "DIGEST", "TYPE", "SIZE", "STORED", "HITS", "FROM", "LAST ACCESS", "PLATFORMS"])
            for repo in cache.repositories {
                for tag in repo.tags {
                    let type = tag.mediaType.split(separator: ".").suffix(2).joined(separator: ".")
                    table.rows.append(["\(repo.registry)/\(repo.repository)", tag.tag, Format.shortDigest(tag.digest), type,
                                       Format.bytes(tag.size), Format.bytes(tag.storedSize), "\(tag.hits)", tag.tier,
                                       Format.age(tag.lastAccess), tag.platforms.joined(separator: ",")])
                }
            }
            Output.write(table.render(), terminator: "")
        }
    }
}

extension List {
    /// `strata ls --deleted [REPO]`.
    private func listDeleted(_ client: AdminClient) async throws {
        var tags = try await client.decode(DeletedTags.self, "/api/tags/deleted").deleted
        if let registry { tags = tags.filter { $0.registry == registry } }
        if let repository {
            guard let parsed = ImageReference(parsing: repository, defaultRegistry: registry ?? "docker.io") else {
                throw CommandFailure("\(repository) is not a repository name")
            }
            tags = tags.filter { $0.repository == parsed.repository.value }
        }
        if json {
            Output.write(try jsonText(DeletedTags(deleted: tags)))
            return
        }
        var table = Table(headers: ["REPOSITORY", "TAG", "DIGEST", "TYPE", "DELETED"])
        for tag in tags {
            table.rows.append(["\(tag.registry)/\(tag.repository)", tag.tag, tag.digest,
                               tag.mediaType.split(separator: ".").suffix(2).joined(separator: "."), Format.age(tag.deletedAt)])
        }
        Output.write(table.render(), terminator: "")
    }
}

/// `strata restore-tag IMAGE:TAG`: puts back a tag upstream deleted.
struct RestoreTag: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore-tag",
        abstract: "Put back a tag upstream deleted, pointing where it last pointed (strata ls --deleted lists them).")

    @OptionGroup var options: AdminOptions
    @Argument(help: "The tag as pulled: alpine:3.20, docker.io/library/alpine:3.20, ghcr.io/org/app:1.") var image: String

    func run() async throws {
        try await runReporting {
            guard let reference = ImageReference(parsing: image), case .tag = reference.reference, image.contains(":") || !image.contains("@") else {
                throw CommandFailure("\(image) is not an image with a tag")
            }
            let body = try JSONEncoder().encode(["image": image])
            let restored = try await AdminClient(options: options).decode(DeletedTag.self, "/api/tags/restore", method: .POST, json: body)
            Output.write("restored \(restored.registry)/\(restored.repository):\(restored.tag) -> \(restored.digest)")
        }
    }
}

/// `strata requests`: the ledger as lines.
struct Requests: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show which tier served each recent request.")

    @OptionGroup var options: AdminOptions
    @Flag(name: .long, help: "Keep printing new requests as they come.") var follow = false
    @Option(name: .long, help: "Only requests served by this tier (local, shared, mirror/NAME, canonical, stale, none).") var tier: String?
    @Option(name: .long, help: "How many recent requests to show first.") var limit = 50
    @Flag(name: .long, help: "Print JSON lines for scripts.") var json = false

    struct Answer: Codable { let requests: [LedgerRecord] }

    func run() async throws {
        try await runReporting {
            let client = AdminClient(options: options)
            if let tier { try await Self.checkTier(tier, client) }
            var since: Date? = nil
            // `since` includes its own moment: the records already printed from that moment on,
            // so that a record is printed once however often it comes back.
            var printed: [(time: Date, key: String)] = []
            while true {
                var path = "/api/requests?limit=\(follow && since != nil ? 1000 : limit)"
                if let tier { path += "&tier=\(tier.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? tier)" }
                if let since { path += "&since=\(since.timeIntervalSince1970)" }
                let records = try await client.decode(Answer.self, path).requests.reversed()
                for record in records {
                    let key = try jsonLine(record)
                    guard !printed.contains(where: { $0.key == key }) else { continue }
                    printed.append((record.time, key))
                    // Written at once: through a pipe, print's buffer would hold the lines back.
                    Output.write(json ? key : Self.line(record))
                }
                if let last = records.last?.time { since = last } else if since == nil { since = Date(timeIntervalSince1970: 0) }
                guard follow else { return }
                // Only what `since` still returns can come back (a second of slack for rounding).
                if let since { printed.removeAll { $0.time < since.addingTimeInterval(-1) } }
                try await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// A `--tier` that no request can have is a typo: said, with the tiers there are.
    static func checkTier(_ tier: String, _ client: AdminClient) async throws {
        struct Tiers: Decodable { struct Tier: Decodable { let name: String }; let tiers: [Tier] }
        let configured = (try? await client.decode(Tiers.self, "/api/tiers"))?.tiers.map(\.name) ?? []
        var valid = ["local", "shared"]
        for name in configured where !valid.contains(name) { valid.append(name) }
        for name in ["canonical", "stale", "none"] where !valid.contains(name) { valid.append(name) }
        guard valid.contains(tier) || tier.hasPrefix("peer/") else {
            throw CommandFailure("unknown tier \(PrintableText.make(tier, limit: 100)) (use one of: \(valid.joined(separator: ", ")))")
        }
    }

    static func line(_ r: LedgerRecord) -> String {
        let time = ISO8601DateFormatter().string(from: r.time)
        let tierText = r.tierPath.count > 1 ? r.tierPath.joined(separator: ">") : r.tier
        let attempts = r.attempts.isEmpty ? "" : "  [" + r.attempts.map { "\($0.tier)=\($0.outcome)" }.joined(separator: " ") + "]"
        let client = r.via.map { "\(r.client) (via \($0))" } ?? r.client
        // Paths, tiers and Via come from clients and upstreams: printed, never obeyed.
        return PrintableText.make("\(time)  \(client)  \(r.method) \(r.path)  \(r.status)  \(Format.bytes(r.bytes))  \(String(format: "%.1f ms", r.seconds * 1000))  \(tierText)\(attempts)", limit: 4096)
    }
}

func jsonText(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

func jsonLine(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

