import AsyncHTTPClient
import Foundation
import StrataCore
import StrataServer
import StrataTesting
import Testing

extension Integration {
    /// The admin server, after pulls through two real registries as tiers.
    @Suite struct Admin {
        struct Requests: Decodable {
            struct Record: Decodable {
                let method: String
                let path: String
                let status: Int
                let bytes: Int64
                let tier: String
                let kind: String
                let repository: String?
                let reference: String?
                let client: String
                let userAgent: String
                struct Attempt: Decodable { let tier: String; let outcome: String }
                let attempts: [Attempt]
            }
            let requests: [Record]
        }

        struct Stats: Decodable {
            struct Window: Decodable {
                struct Tier: Decodable { let requests: Int; let bytes: Int64 }
                let tiers: [String: Tier]
                let requests: Int
                let hitRatio: Double?
                let upstreamBytesSaved: Int64
            }
            let total: Window
            let last5m: Window
            let last1h: Window
        }

        func get<T: Decodable>(_ type: T.Type, _ url: String) async throws -> T {
            let answer = try await fetch(url)
            #expect(answer.status == 200, "\(url)")
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            return try decoder.decode(type, from: Data(answer.body))
        }

        @Test func ledgerStatsListingAndMetricsAfterPullsThroughTwoTiers() async throws {
            let (upstream, images) = try await SharedUpstream.shared.get()
            let empty = DistributionRegistry()
            try await empty.start()
            defer { empty.stop() }
            let accessLog = makeTempDirectory("access") + "/access.jsonl"
            let strata = try await StrataInstance.start(canonical: "http://127.0.0.1:9", configure: { config in
                config.tiers = [.init(name: "empty", url: empty.url), .init(name: "full", url: upstream.url)]
                config.adminAccessLog = accessLog
            })
            defer { Task { await strata.stop() } }

            _ = try Skopeo.copy("\(strata.hostPort)/library/small:1")   // cold: tier "full"
            _ = try Skopeo.copy("\(strata.hostPort)/library/small:1")   // warm: cache
            _ = try Skopeo.copy("\(strata.hostPort)/library/multi:1")   // cold, multi-platform

            let ledger = try await get(Requests.self, "\(strata.adminURL)/api/requests?limit=1000").requests
            let small = images.small.blobs.keys.map(\.description)
            for digest in small {
                let served = ledger.filter { $0.kind == "blob" && $0.reference == digest && $0.status == 200 }
                #expect(served.map(\.tier).sorted() == ["local", "mirror/full"], "blob \(digest)")
                let cold = try #require(served.first { $0.tier == "mirror/full" })
                #expect(cold.attempts.map(\.tier) == ["mirror/empty", "mirror/full"])
                #expect(cold.attempts.map(\.outcome) == ["not_found", "ok"])
                #expect(cold.bytes == Int64(images.small.blobs[try Digest(parsing: digest)]!.count))
                #expect(cold.userAgent.hasPrefix("skopeo"))
                #expect(cold.client == "127.0.0.1")
            }
            let tagRequests = ledger.filter { $0.kind == "manifest" && $0.repository == "library/small" && $0.reference == "1" }
            #expect(tagRequests.map(\.tier).sorted() == ["local", "mirror/full"])
            // Filters.
            let cacheOnly = try await get(Requests.self, "\(strata.adminURL)/api/requests?tier=local").requests
            #expect(!cacheOnly.isEmpty && cacheOnly.allSatisfy { $0.tier == "local" })
            let multiOnly = try await get(Requests.self, "\(strata.adminURL)/api/requests?repo=library/multi").requests
            #expect(!multiOnly.isEmpty && multiOnly.allSatisfy { $0.repository == "library/multi" })
            let limited = try await get(Requests.self, "\(strata.adminURL)/api/requests?limit=2").requests
            #expect(limited.count == 2)
            let future = try await get(Requests.self, "\(strata.adminURL)/api/requests?since=\(Date().addingTimeInterval(60).timeIntervalSince1970)").requests
            #expect(future.isEmpty)

            // Stats agree with the ledger.
            let stats = try await get(Stats.self, "\(strata.adminURL)/api/stats")
            #expect(stats.total.requests == ledger.count)
            for tier in Set(ledger.map(\.tier)) {
                #expect(stats.total.tiers[tier]?.requests == ledger.filter { $0.tier == tier }.count, "tier \(tier)")
                #expect(stats.last5m.tiers[tier]?.requests == ledger.filter { $0.tier == tier }.count, "tier \(tier), 5 min")
            }
            let content = ledger.filter { ($0.kind == "manifest" || $0.kind == "blob") && $0.status == 200 }
            let hits = content.filter { $0.tier == "local" }
            #expect(stats.total.hitRatio == Double(hits.count) / Double(content.count))
            #expect(stats.total.upstreamBytesSaved == hits.reduce(0) { $0 + $1.bytes })

            // The cache listing matches what was pulled.
            struct Cache: Decodable {
                struct Repo: Decodable {
                    struct Tag: Decodable { let tag: String; let digest: String; let size: Int64; let storedSize: Int64; let platforms: [String]; let tier: String }
                    let registry: String
                    let repository: String
                    let tags: [Tag]
                }
                let repositories: [Repo]
                let blobs: Int
            }
            let cache = try await get(Cache.self, "\(strata.adminURL)/api/cache")
            #expect(cache.repositories.map(\.repository) == ["library/multi", "library/small"])
            #expect(cache.repositories.allSatisfy { $0.registry == "docker.io" })
            let smallTag = try #require(cache.repositories.first { $0.repository == "library/small" }?.tags.first)
            #expect(smallTag.tag == "1")
            #expect(smallTag.digest == images.small.digest.description)
            #expect(smallTag.size == images.small.blobs.values.reduce(0) { $0 + Int64($1.count) })
            #expect(smallTag.tier == "mirror/full")
            #expect(smallTag.storedSize > 0 && smallTag.storedSize < smallTag.size)
            let multi = try await get(Cache.self, "\(strata.adminURL)/api/cache/library/multi")
            #expect(multi.repositories.count == 1)
            #expect(multi.repositories[0].tags.first?.platforms == ["linux/amd64", "linux/arm64"])
            #expect(try await fetch("\(strata.adminURL)/api/cache/library/never").status == 404)
            let expectedBlobs = Set(images.small.allBlobs.keys).union(images.multi.allBlobs.keys).count
                + 1 + 1 + images.multi.children.count   // manifests: small, multi index, platform manifests
            #expect(cache.blobs == expectedBlobs)

            // Tiers.
            struct Tiers: Decodable {
                struct Tier: Decodable { let name: String; let url: String; let breaker: String; let successes: Int }
                let tiers: [Tier]
            }
            let tiers = try await get(Tiers.self, "\(strata.adminURL)/api/tiers").tiers
            #expect(tiers.map(\.name) == ["mirror/empty", "mirror/full", "canonical"])
            #expect(tiers.map(\.url) == [empty.url, upstream.url, "http://127.0.0.1:9"])
            #expect(tiers.allSatisfy { $0.breaker == "closed" })

            // Metrics parse as Prometheus text and agree with the ledger.
            let metrics = try await fetch("\(strata.adminURL)/metrics")
            #expect(metrics.headers.first(name: "Content-Type")?.hasPrefix("text/plain") == true)
            let samples = try PrometheusText.parse(String(decoding: metrics.body, as: UTF8.self))
            let cacheRequests = samples.filter { $0.name == "strata_requests_total" && $0.labels["tier"] == "local" }.reduce(0) { $0 + $1.value }
            #expect(Int(cacheRequests) == ledger.filter { $0.tier == "local" }.count)
            #expect(samples.contains { $0.name == "strata_fills_in_flight" })
            #expect(samples.contains { $0.name == "strata_cache_blobs" && Int($0.value) == expectedBlobs })
            #expect(samples.contains { $0.name == "strata_request_duration_seconds_count" })

            // Health.
            #expect(String(decoding: try await fetch("\(strata.adminURL)/healthz").body, as: UTF8.self) == "ok\n")
            #expect(try await fetch("\(strata.adminURL)/readyz").status == 200)

            // Every answer on the registry port says its tier.
            let ping = try await fetch("\(strata.url)/v2/")
            #expect(ping.headers.first(name: "X-Strata-Tier") == "none")

            // The access log holds the same records as JSON lines.
            await strata.stop()
            let lines = try String(contentsOfFile: accessLog, encoding: .utf8).split(separator: "\n")
            #expect(lines.count >= ledger.count)
            #expect(lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil })
        }

        /// Off loopback the admin port needs a token; Strata refuses to start without one.
        @Test func adminOffLoopbackRequiresAToken() async throws {
            var config = StrataConfiguration()
            config.listen = "127.0.0.1:0"
            config.adminListen = "0.0.0.0:0"
            config.cacheDirectory = makeTempDirectory("admin-token")
            config.canonical = ["docker.io": "http://127.0.0.1:9"]
            #expect(throws: StrataServer.StartupError.self) {
                _ = try StrataServer(configuration: config, logger: .init(label: "test"))
            }
            let tokenFile = makeTempDirectory("admin-token") + "/token"
            try "s3cret-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
            let strata = try await StrataInstance.start(canonical: "http://127.0.0.1:9", configure: { config in
                config.adminListen = "0.0.0.0:0"
                config.adminTokenFile = tokenFile
            })
            defer { Task { await strata.stop() } }
            for path in ["/api/stats", "/metrics", "/", "/api/cache"] {
                #expect(try await fetch(strata.adminURL + path).status == 401, "\(path)")
                #expect(try await fetch(strata.adminURL + path, headers: [("Authorization", "Bearer wrong")]).status == 401)
                #expect(try await fetch(strata.adminURL + path, headers: [("Authorization", "Bearer s3cret-token")]).status == 200)
            }
            // Probes need no token, and say only ready or not.
            #expect(String(decoding: try await fetch(strata.adminURL + "/healthz").body, as: UTF8.self) == "ok\n")
            #expect(String(decoding: try await fetch(strata.adminURL + "/readyz").body, as: UTF8.self) == "ready\n")

            // A browser is sent to the sign-in form; the token signs it in with a cookie.
            let html = [("Accept", "text/html,application/xhtml+xml")]
            let redirected = try await fetch(strata.adminURL + "/", headers: html)
            #expect(redirected.status == 303 && redirected.headers.first(name: "Location") == "/login")
            let form = try await fetch(strata.adminURL + "/login", headers: html)
            #expect(form.status == 200 && String(decoding: form.body, as: UTF8.self).contains("<form id=\"login\" method=\"post\" action=\"/login\">"))
            let post = [("Content-Type", "application/x-www-form-urlencoded"), ("Origin", strata.adminURL)]
            let wrong = try await fetch(strata.adminURL + "/login", method: .POST, headers: post, body: "token=guess")
            #expect(wrong.status == 401 && String(decoding: wrong.body, as: UTF8.self).contains("id=\"login-error\""))
            #expect(wrong.headers.first(name: "Set-Cookie") == nil)
            let signed = try await fetch(strata.adminURL + "/login", method: .POST, headers: post, body: "token=s3cret-token")
            #expect(signed.status == 303 && signed.headers.first(name: "Location") == "/")
            let cookie = try #require(signed.headers.first(name: "Set-Cookie"))
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && !cookie.contains("s3cret-token"))
            let session = String(cookie.prefix { $0 != ";" })
            let dashboard = try await fetch(strata.adminURL + "/", headers: html + [("Cookie", session)])
            #expect(dashboard.status == 200 && String(decoding: dashboard.body, as: UTF8.self).contains("href=\"/logout\""))
            #expect(try await fetch(strata.adminURL + "/api/stats", headers: [("Cookie", session)]).status == 200)
            #expect(try await fetch(strata.adminURL + "/api/stats", headers: [("Cookie", "strata_admin=forged")]).status == 401)
            // Another site's page cannot post the form.
            let crossSite = try await fetch(strata.adminURL + "/login", method: .POST,
                                            headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Origin", "http://evil.example")],
                                            body: "token=s3cret-token")
            #expect(crossSite.status == 403)
            let signedOut = try await fetch(strata.adminURL + "/logout", headers: [("Cookie", session)])
            #expect(signedOut.status == 303 && signedOut.headers.first(name: "Set-Cookie")?.contains("Max-Age=0") == true)
            // Finding 13: the cookie was a fixed HMAC of the token, valid after sign-out. A
            // session is random, and sign-out ends it on the server.
            #expect(try await fetch(strata.adminURL + "/api/stats", headers: [("Cookie", session)]).status == 401, "a session outlived sign-out")
            let again = try await fetch(strata.adminURL + "/login", method: .POST, headers: post, body: "token=s3cret-token")
            let second = String((again.headers.first(name: "Set-Cookie") ?? "").prefix { $0 != ";" })
            #expect(second.hasPrefix("strata_admin=") && second != session, "each sign-in gets its own session")
            #expect(!cookie.contains("Secure"), "plain HTTP: a Secure cookie would never be sent back")
            // Wrong tokens from one address: five are answered, then the address waits.
            var statuses: [Int] = []
            for n in 0..<7 {
                statuses.append(try await fetch(strata.adminURL + "/login", method: .POST, headers: post, body: "token=guess\(n)").status)
            }
            #expect(statuses == [401, 401, 401, 401, 401, 429, 429], "\(statuses)")
            let throttled = try await fetch(strata.adminURL + "/login", method: .POST, headers: post, body: "token=s3cret-token")
            #expect(throttled.status == 429 && throttled.headers.first(name: "Retry-After").flatMap { Int($0) }.map { (1...60).contains($0) } == true,
                    "even the right token waits out the burst")
        }

        /// `strata status`, `strata ls` and `strata requests` read a running Strata.
        @Test func commandLineReportsFromTheAdminAPI() async throws {
            let (upstream, images) = try await SharedUpstream.shared.get()
            let strata = try await StrataInstance.start(canonical: upstream.url)
            defer { Task { await strata.stop() } }
            _ = try Skopeo.copy("\(strata.hostPort)/library/small:1")
            let binary = try #require(CommandLine.binary)
            let status = try runCommand(binary, ["status", "--admin", strata.adminURL])
            #expect(status.status == 0)
            #expect(status.output.contains("SERVED BY"))
            #expect(status.output.contains("canonical"))
            #expect(status.output.contains("Cache: 1 repositories"))
            // `/v2/` pings are counted apart, the same way here and on the dashboard.
            struct Stats: Decodable { struct Window: Decodable { let pings: Int }; let total: Window }
            let pings = try JSONDecoder().decode(Stats.self, from: Data(try await fetch("\(strata.adminURL)/api/stats").body)).total.pings
            #expect(pings > 0)
            let counted = try runCommand(binary, ["status", "--admin", strata.adminURL])
            #expect(counted.output.contains("And \(pings) API version checks (GET /v2/), which no tier serves."), "\(counted.output)")
            #expect(!counted.output.split(separator: "\n").contains { $0.hasPrefix("none ") }, "pings are not a tier's traffic: \(counted.output)")
            let dashboard = String(decoding: try await fetch("\(strata.adminURL)/").body, as: UTF8.self)
            #expect(dashboard.contains("And \(pings) API version checks (<code>GET /v2/</code>)"))
            let ls = try runCommand(binary, ["ls", "--admin", strata.adminURL])
            #expect(ls.output.split(separator: "\n").last?.hasPrefix("docker.io/library/small") == true)
            let tags = try runCommand(binary, ["ls", "library/small", "--json", "--admin", strata.adminURL])
            #expect(tags.status == 0)
            #expect(tags.output.contains(images.small.digest.description))
            let requests = try runCommand(binary, ["requests", "--tier", "canonical", "--admin", strata.adminURL])
            #expect(requests.status == 0)
            let lines = requests.output.split(separator: "\n")
            #expect(!lines.isEmpty && lines.allSatisfy { $0.hasSuffix("canonical") || $0.contains("  canonical  [") })
            // The name as a client pulls it, or as `strata ls` prints it, lists the same.
            for name in ["small", "docker.io/library/small", "library/small:1"] {
                let named = try runCommand(binary, ["ls", name, "--admin", strata.adminURL])
                #expect(named.status == 0 && named.output.contains("docker.io/library/small") && named.output.contains("  1  "), "\(name): \(named.output)")
            }
            let missing = try runCommand(binary, ["ls", "library/none", "--admin", strata.adminURL])
            #expect(missing.status == 1)
            #expect(missing.output == "strata: repository library/none is not cached\n")
            // host:port is taken as http://host:port; anything else that is not a server's URL is one line.
            let schemeless = try runCommand(binary, ["status", "--admin", strata.adminURL.replacingOccurrences(of: "http://", with: "")])
            #expect(schemeless.status == 0 && schemeless.output.contains("SERVED BY"), "\(schemeless.output)")
            let notURL = try runCommand(binary, ["status", "--admin", "ftp://127.0.0.1:9"])
            #expect(notURL.status == 1)
            #expect(notURL.output == "strata: --admin must be a URL like http://127.0.0.1:5050, not \"ftp://127.0.0.1:9\"\n")
            let version = try runCommand(binary, ["--version"])
            #expect(version.status == 0 && version.output == "\(StrataVersion.current)\n")
            let down = try runCommand(binary, ["status", "--admin", "http://127.0.0.1:9"])
            #expect(down.status == 1)
            #expect(down.output.hasPrefix("strata: cannot reach the admin server at http://127.0.0.1:9"))
        }
    }
}

/// A small parser for the Prometheus text exposition format, strict enough to catch
/// malformed output: every sample line is `name{labels} value`.
enum PrometheusText {
    struct Sample { let name: String; let labels: [String: String]; let value: Double }

    static func parse(_ text: String) throws -> [Sample] {
        var samples: [Sample] = []
        for line in text.split(separator: "\n") where !line.isEmpty {
            if line.hasPrefix("#") {
                guard line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") else { throw TestSupportError("bad comment: \(line)") }
                continue
            }
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                throw TestSupportError("bad sample: \(line)")
            }
            let series = line[..<space]
            var labels: [String: String] = [:]
            var name = String(series)
            if let brace = series.firstIndex(of: "{") {
                guard series.hasSuffix("}") else { throw TestSupportError("bad labels: \(line)") }
                name = String(series[..<brace])
                let body = series[series.index(after: brace)..<series.index(before: series.endIndex)]
                for pair in body.split(separator: ",") where !pair.isEmpty {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    guard parts.count == 2, parts[1].hasPrefix("\""), parts[1].hasSuffix("\"") else { throw TestSupportError("bad label: \(pair)") }
                    labels[String(parts[0])] = String(parts[1].dropFirst().dropLast())
                }
            }
            guard name.range(of: "^[a-zA-Z_:][a-zA-Z0-9_:]*$", options: .regularExpression) != nil else {
                throw TestSupportError("bad metric name: \(name)")
            }
            samples.append(Sample(name: name, labels: labels, value: value))
        }
        return samples
    }
}

extension Integration.Admin {
    /// Debian's chromium, headless, on one URL: the DOM it built, or a screenshot.
    static func chromium(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let chromium = try #require(which("chromium"), "chromium is not installed (apt-get install chromium)")
        let base = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                    "--user-data-dir=\(makeTempDirectory("chromium"))"]
        return try await Task.detached { try runCommand(chromium, base + arguments) }.value
    }

    /// The part of `html` from the element with `id` to the end of its table or figure.
    static func element(_ id: String, in html: String) -> Substring? {
        guard let start = html.range(of: "id=\"\(id)\"") else { return nil }
        let end = html.range(of: "</table>", range: start.upperBound..<html.endIndex)?.upperBound
            ?? html.range(of: "</svg>", range: start.upperBound..<html.endIndex)?.upperBound ?? html.endIndex
        return html[start.lowerBound..<end]
    }

    /// The dashboard, loaded in a real headless browser at 1280 px: every part a person
    /// looks for is there with real figures, nothing is wider than the window, and a
    /// screenshot is kept (in `$STRATA_SCREENSHOTS`, or a temp directory).
    @Test func dashboardRendersInAHeadlessBrowser() async throws {
        let (upstream, _) = try await SharedUpstream.shared.get()
        let strata = try await StrataInstance.start(canonical: upstream.url) { config in
            config.maxSize = 2 << 30
            config.tiers = [.init(name: "down", url: "http://127.0.0.1:9")]
        }
        defer { Task { await strata.stop() } }
        _ = try Skopeo.copy("\(strata.hostPort)/library/small:1")
        _ = try Skopeo.copy("\(strata.hostPort)/library/small:1")
        let binary = try #require(Integration.CommandLine.binary)
        #expect(try runCommand(binary, ["prefetch", "--admin", strata.adminURL, "--platform", "linux/amd64", "library/multi:1"]).status == 0)
        let url = strata.adminURL + "/"

        let dom = try await Self.chromium(["--window-size=1280,1000", "--dump-dom", url])
        #expect(dom.status == 0)
        let html = dom.output
        // The DOM as the browser built it: the tier table with a row per serving tier.
        let table = try #require(Self.element("tier-breakdown", in: html))
        #expect(table.contains("<td>local</td>") && table.contains("<td>canonical</td>"))
        #expect(html.contains("id=\"hit-ratio\""))
        #expect(html.contains("version <b>\(StrataVersion.current)</b>"))
        #expect(Self.element("uptime", in: html)?.contains("up <b>") == true)
        #expect(Self.element("disk-use", in: html)?.contains(" of 2.0 GiB (") == true, "disk use against the bound")
        let status = try runCommand(binary, ["status", "--admin", strata.adminURL])
        #expect(status.output.contains(" on disk of 2.0 GiB ("), "\(status.output)")
        let metrics = String(decoding: try await fetch(strata.adminURL + "/metrics").body, as: UTF8.self)
        #expect(metrics.contains("strata_cache_max_bytes 2147483648"), "\(metrics)")
        for chart in ["chart-requests-hour", "chart-bytes-hour", "chart-requests-day", "chart-bytes-day"] {
            let svg = try #require(Self.element(chart, in: html), "\(chart)")
            #expect(svg.contains("<rect") && svg.contains("fill=\"#2e7d32\""), "\(chart) has bars for local")
        }
        let health = try #require(Self.element("tier-health", in: html))
        #expect(health.contains("class=\"t error-time\"") && health.contains("refused"), "the down tier's last error, with its time")
        let top = try #require(Self.element("top-repositories", in: html))
        #expect(top.contains("docker.io/library/small") && top.contains("%"))
        #expect(Self.element("prefetch", in: html)?.contains("Last hour: 0 ") == false, "prefetch activity counted")
        #expect(html.contains("id=\"pings\""))

        // Nothing wider than 1280 px: the served page, measured in the browser by a
        // script added to a copy of it (the page itself runs none).
        let page = String(decoding: try await fetch(url).body, as: UTF8.self)
        let probe = "<script>document.body.setAttribute('data-width', String(document.documentElement.scrollWidth));</script></body>"
        let copy = makeTempDirectory("dashboard") + "/dashboard.html"
        try page.replacingOccurrences(of: "</body>", with: probe).write(toFile: copy, atomically: true, encoding: .utf8)
        let measured = try await Self.chromium(["--window-size=1280,1000", "--dump-dom", "file://\(copy)"])
        let width = measured.output.range(of: #"data-width="(\d+)""#, options: .regularExpression)
            .map { measured.output[$0].dropFirst(12).dropLast() }.flatMap { Int($0) }
        #expect(width.map { $0 <= 1280 } == true, "page width \(String(describing: width)) at a 1280 px window")

        let shots = ProcessInfo.processInfo.environment["STRATA_SCREENSHOTS"] ?? makeTempDirectory("screenshots")
        try FileManager.default.createDirectory(atPath: shots, withIntermediateDirectories: true)
        let shot = try await Self.chromium(["--window-size=1280,2400", "--screenshot=\(shots)/dashboard-1280.png", url])
        #expect(shot.status == 0, "\(shot.output)")
        let png = try Data(contentsOf: URL(fileURLWithPath: "\(shots)/dashboard-1280.png"))
        // IHDR: the width is bytes 16..<20, big-endian.
        #expect(png.count > 10_000 && png.prefix(4) == Data([0x89, 0x50, 0x4e, 0x47]))
        #expect(png.count > 20 && png[16..<20].reduce(0) { $0 << 8 | Int($1) } == 1280)
    }
}
