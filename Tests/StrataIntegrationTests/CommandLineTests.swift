import Foundation
import StrataTesting
import Testing

extension Integration {
    /// `strata serve` as a user runs it: bad input gives one line and a non-zero exit.
    @Suite struct CommandLine {
        /// The built `strata` binary, next to the test bundle's build products.
        static var binary: String? {
            if let explicit = ProcessInfo.processInfo.environment["STRATA_BINARY"] { return explicit }
            let cwd = FileManager.default.currentDirectoryPath
            for candidate in [".build/debug/strata", ".build/x86_64-unknown-linux-gnu/debug/strata", ".build/aarch64-unknown-linux-gnu/debug/strata"] {
                let path = "\(cwd)/\(candidate)"
                if FileManager.default.isExecutableFile(atPath: path) { return path }
            }
            return nil
        }

        func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
            let binary = try #require(Self.binary, "build strata first (swift build --build-tests)")
            return try runCommand(binary, arguments)
        }

        @Test func unknownConfigKeyIsOneLineAndExit1() throws {
            let dir = makeTempDirectory("cli")
            let config = "\(dir)/strata.yml"
            try "listen: 127.0.0.1:0\ncache:\n  dir: \(dir)/cache\n  tag_tll: 5m\n".write(toFile: config, atomically: true, encoding: .utf8)
            let (status, output) = try run(["serve", "--config", config])
            #expect(status == 1)
            #expect(output == "strata: config: unknown key \"cache.tag_tll\"\n")
        }

        @Test func badValuesAreNamed() throws {
            let dir = makeTempDirectory("cli")
            let config = "\(dir)/strata.yml"
            try "cache:\n  tag_ttl: soon\n".write(toFile: config, atomically: true, encoding: .utf8)
            let (status, output) = try run(["serve", "--config", config])
            #expect(status == 1)
            #expect(output.hasPrefix("strata: config: cache.tag_ttl must be a duration"))
            #expect(output.split(separator: "\n").count == 1)
            let missing = try run(["serve", "--config", "\(dir)/nope.yml"])
            #expect(missing.status == 1)
            #expect(missing.output == "strata: cannot read config file \(dir)/nope.yml: no such file\n")
        }

        @Test func portInUseIsOneLineAndExit1() async throws {
            let registry = DistributionRegistry()
            try await registry.start()
            defer { registry.stop() }
            let dir = makeTempDirectory("cli")
            let (status, output) = try run(["serve", "--listen", registry.hostPort, "--admin-listen", "127.0.0.1:0", "--cache-dir", "\(dir)/cache",
                                            "--canonical", "http://127.0.0.1:9", "--log-level", "error"])
            #expect(status == 1)
            #expect(output == "strata: cannot listen on \(registry.hostPort): address already in use\n")
        }

        @Test func unwritableCacheDirIsOneLineAndExit1() throws {
            let (status, output) = try run(["serve", "--listen", "127.0.0.1:0", "--admin-listen", "off", "--cache-dir", "/proc/strata-cache",
                                            "--canonical", "http://127.0.0.1:9"])
            #expect(status == 1)
            #expect(output.hasPrefix("strata: cache dir /proc/strata-cache is not usable:"))
            #expect(output.split(separator: "\n").count == 1)
        }

        /// The binary serves, and stops cleanly on SIGTERM.
        @Test func servesAndStopsOnSigterm() async throws {
            let binary = try #require(Self.binary)
            let dir = makeTempDirectory("cli")
            let port = FreePort.next()
            let child = try ChildProcess(name: "strata", executable: binary, arguments: [
                "serve", "--listen", "127.0.0.1:\(port)", "--admin-listen", "127.0.0.1:0", "--cache-dir", "\(dir)/cache", "--canonical", "http://127.0.0.1:9",
            ], logPath: "\(dir)/strata.log")
            try await waitUntilAnswering("http://127.0.0.1:\(port)/v2/")
            let ping = try await fetch("http://127.0.0.1:\(port)/v2/")
            #expect(ping.status == 200)
            child.stop(signal: SIGTERM)
            #expect(child.process.terminationStatus == 0)
            #expect(child.log().contains("  registry   http://127.0.0.1:\(port) (plain HTTP, no login)"))
            #expect(child.log().contains("strata stopped after "))
        }
    }
}

extension Integration.CommandLine {
    /// Errors a person can read: one line, with the reason.
    @Test func startupErrorsSayWhyInOneLine() throws {
        let binary = try #require(Self.binary)
        let dir = makeTempDirectory("errors")
        let missing = try runCommand(binary, ["serve", "--config", "\(dir)/none.yml"])
        #expect(missing.status == 1 && missing.output == "strata: cannot read config file \(dir)/none.yml: no such file\n")
        try "cache:\n  max_size: [1,\n".write(toFile: "\(dir)/bad.yml", atomically: true, encoding: .utf8)
        let yaml = try runCommand(binary, ["serve", "--config", "\(dir)/bad.yml"])
        #expect(yaml.status == 1)
        #expect(yaml.output == "strata: config is not valid YAML: line 3, column 1: while parsing a flow node: did not find expected node content\n")
        try "not a certificate\n".write(toFile: "\(dir)/cert.pem", atomically: true, encoding: .utf8)
        try "tls: { cert: \(dir)/cert.pem, key: \(dir)/cert.pem }\n".write(toFile: "\(dir)/tls.yml", atomically: true, encoding: .utf8)
        let tls = try runCommand(binary, ["serve", "--config", "\(dir)/tls.yml", "--listen", "127.0.0.1:0", "--admin-listen", "off",
                                          "--cache-dir", "\(dir)/cache", "--canonical", "http://127.0.0.1:9"])
        #expect(tls.status == 1 && tls.output == "strata: tls.cert \(dir)/cert.pem is not a PEM certificate\n", "\(tls.output)")
    }
}

extension Integration.TierChain {
    /// A tier that refuses connections: the ledger says "connection refused" (not the
    /// errno layers), and once its breaker opens the client's 503 says why it was skipped.
    @Test func failuresAreSaidInWords() async throws {
        let strata = try await StrataInstance.start(canonical: "http://127.0.0.1:9", configure: { config in
            config.breakerFailures = 2
            config.breakerCoolOff = 600
            config.negativeTTL = 0
        })
        defer { Task { await strata.stop() } }
        var last = (status: 0, body: "", retryAfter: String?.none)
        for n in 0..<3 {
            let answer = try await fetch("\(strata.url)/v2/library/words/manifests/\(n)")
            last = (answer.status, String(decoding: answer.body, as: UTF8.self), answer.headers.first(name: "Retry-After"))
        }
        #expect(last.status == 503)
        #expect(last.retryAfter.flatMap { Int($0) }.map { (1...600).contains($0) } == true, "\(String(describing: last.retryAfter))")
        #expect(last.body.contains("canonical=skipped (circuit breaker open after repeated failures)"), "\(last.body)")
        struct Requests: Decodable {
            struct Attempt: Decodable { let outcome: String; let message: String? }
            struct R: Decodable { let reference: String?; let attempts: [Attempt]? }
            let requests: [R]
        }
        let ledger = try JSONDecoder().decode(Requests.self, from: Data(try await fetch("\(strata.adminURL)/api/requests").body)).requests
        let first = try #require(ledger.first { $0.reference == "0" }?.attempts?.first)
        #expect(first.outcome == "transport" && first.message?.hasSuffix(": connection refused") == true, "\(String(describing: first.message))")
        #expect(first.message?.contains("errno") == false)
        let skipped = try #require(ledger.first { $0.reference == "2" }?.attempts?.first)
        #expect(skipped.outcome == "skipped" && skipped.message?.contains("last error: ") == true && skipped.message?.contains("connection refused") == true)
    }
}

extension Integration.TierChain {
    /// Over the rate limit: the budget shows in /metrics, and while the tier cools off
    /// the 503 says when to come back (`Retry-After`).
    @Test func aRateLimitShowsInMetricsAndRetryAfter() async throws {
        let upstream = FaultyRegistry(fault: .status(429, retryAfter: "120"))
        try await upstream.start()
        defer { upstream.stop() }
        let strata = try await StrataInstance.start(canonical: upstream.url, configure: { $0.negativeTTL = 0 })
        defer { Task { await strata.stop() } }
        let limited = try await fetch("\(strata.url)/v2/library/limited/manifests/1")
        #expect(limited.status == 503 || limited.status == 429, "\(limited.status)")
        let cooling = try await fetch("\(strata.url)/v2/library/limited/manifests/2")
        #expect(cooling.status == 503)
        let wait = try #require(cooling.headers.first(name: "Retry-After").flatMap { Int($0) }, "\(cooling.headers)")
        #expect((1...120).contains(wait))
        let metrics = String(decoding: try await fetch("\(strata.adminURL)/metrics").body, as: UTF8.self)
        #expect(metrics.contains(#"strata_tier_ratelimit_remaining{tier="canonical",registry="docker.io"} 0"#), "\(metrics)")
        #expect(metrics.contains(#"strata_tier_ratelimit_limit{tier="canonical",registry="docker.io"} 100"#), "\(metrics)")
        let dashboard = String(decoding: try await fetch("\(strata.adminURL)/").body, as: UTF8.self)
        #expect(dashboard.contains(">0 of 100</td>"), "\(dashboard)")
    }
}
