import Foundation
import StrataCore
import StrataServer
import StrataTesting
import Testing

extension Integration.CommandLine {
    @Test func configureDockerMergesAndKeepsEveryOtherKey() throws {
        let existing = #"{"debug": true, "registry-mirrors": ["http://old:5000", "http://10.1.2.3:5000"], "log-opts": {"max-size": "10m"}}"#
        let text = try ClientConfigs.dockerDaemonJSON(mirror: "http://10.1.2.3:5000", existing: Data(existing.utf8))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["debug"] as? Bool == true)
        #expect((object["log-opts"] as? [String: String]) == ["max-size": "10m"])
        #expect(object["registry-mirrors"] as? [String] == ["http://10.1.2.3:5000", "http://old:5000"])
        #expect(object["insecure-registries"] as? [String] == ["10.1.2.3:5000"])
        #expect(throws: ClientConfigs.Failure.self) { try ClientConfigs.dockerDaemonJSON(mirror: "http://x:5000", existing: Data("[1]".utf8)) }
        let tls = try ClientConfigs.dockerDaemonJSON(mirror: "https://mirror.lan:5000")
        #expect(!tls.contains("insecure-registries"))
    }

    @Test func configureCommandsPrintUsableConfig() throws {
        let binary = try #require(Self.binary)
        let dir = makeTempDirectory("configure")
        try #"{"data-root": "/srv/docker"}"#.write(toFile: "\(dir)/daemon.json", atomically: true, encoding: .utf8)
        let docker = try runCommand(binary, ["configure", "docker", "--mirror", "http://127.0.0.1:5000", "--merge", "\(dir)/daemon.json"])
        #expect(docker.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(docker.output.utf8)) as? [String: Any])
        #expect(object["data-root"] as? String == "/srv/docker")
        #expect(object["registry-mirrors"] as? [String] == ["http://127.0.0.1:5000"])

        let containerd = try runCommand(binary, ["configure", "containerd", "--mirror", "http://127.0.0.1:5000", "--registry", "ghcr.io"])
        #expect(containerd.output.contains(#"server = "https://ghcr.io""#))
        #expect(containerd.output.contains(#"[host."http://127.0.0.1:5000"]"#))
        #expect(containerd.output.contains(#"capabilities = ["pull", "resolve"]"#))

        let podman = try runCommand(binary, ["configure", "podman", "--mirror", "http://strata.lan:5000", "--prefix", "dockerhub"])
        #expect(podman.output.contains(#"location = "docker.io""#))
        #expect(podman.output.contains(#"location = "strata.lan:5000/dockerhub""#))
        #expect(podman.output.contains("insecure = true"))

        // A fresh Docker host has no daemon.json: the mirror settings alone, which dockerd takes.
        let fresh = try runCommand(binary, ["configure", "docker", "--mirror", "http://127.0.0.1:5000", "--merge", "\(dir)/missing.json"])
        #expect(fresh.status == 0)
        let freshObject = try #require(try JSONSerialization.jsonObject(with: Data(fresh.output.utf8)) as? [String: Any])
        #expect(freshObject["registry-mirrors"] as? [String] == ["http://127.0.0.1:5000"])
        #expect(freshObject["insecure-registries"] as? [String] == ["127.0.0.1:5000"])
        let bad = try runCommand(binary, ["configure", "docker", "--merge", dir])
        #expect(bad.status == 1)
        #expect(bad.output == "strata: cannot read \(dir)\n")
        // A mirror without a scheme would stop dockerd from starting: refused, for every client.
        for client in [["docker"], ["containerd"], ["podman"]] {
            let schemeless = try runCommand(binary, ["configure"] + client + ["--mirror", "127.0.0.1:5000"])
            #expect(schemeless.status == 1, "\(client)")
            #expect(schemeless.output == "strata: --mirror must be a URL like http://strata.lan:5000 (scheme, host, port), not \"127.0.0.1:5000\"\n")
        }
        let upstream = try runCommand(binary, ["configure", "containerd", "--upstream", "ftp://x"])
        #expect(upstream.status == 1 && upstream.output.contains("--upstream must be a URL"))
    }
}

extension Integration.CommandLine {
    /// Started, `strata serve` says in a few lines where it listens and how, the cache and
    /// its bounds, the mode and each registry's tiers in order; stopped, it says so.
    @Test func serveSummarisesItsSetUpAndItsEnd() throws {
        let binary = try #require(Self.binary)
        let dir = makeTempDirectory("summary")
        try """
            listen: 127.0.0.1:0
            admin_listen: 127.0.0.1:0
            cache: { max_size: 2GiB, tag_ttl: 5m }
            tiers:
              - { name: central, url: "http://127.0.0.1:9" }
              - { name: quay-only, url: "http://127.0.0.1:10", registries: [quay.io] }
            canonical: { docker.io: "http://127.0.0.1:11", quay.io: "http://127.0.0.1:12" }
            """.write(toFile: "\(dir)/strata.yml", atomically: true, encoding: .utf8)
        let script = """
            '\(binary)' serve --config '\(dir)/strata.yml' --cache-dir '\(dir)/cache' --cache-only >'\(dir)/log' 2>&1 &
            for _ in $(seq 1 200); do grep -q 'quay.io:' '\(dir)/log' && break; sleep 0.05; done
            kill -INT %1; wait
            cat '\(dir)/log'
            """
        let output = try runCommand("/bin/bash", ["-c", script]).output
        let lines = output.split(separator: "\n").map { String($0.split(separator: "[strata] ", maxSplits: 1).last ?? "") }
        #expect(lines.first == "strata \(StrataVersion.current) (instance \(lines.first?.split(separator: " ")[3].dropLast() ?? "")) serving", "\(output)")
        #expect(lines.contains { $0.hasPrefix("  registry   http://127.0.0.1:") && $0.hasSuffix("(plain HTTP, no login)") })
        #expect(lines.contains { $0.hasPrefix("  dashboard  http://127.0.0.1:") && $0.hasSuffix("/ (no token)") })
        #expect(lines.contains("  cache      \(dir)/cache, up to 2.0 GiB, idle after 30d, tags fresh for 5m"))
        #expect(lines.contains("  mode       cache-only: serves what is cached, never contacts a tier"))
        #expect(lines.contains("  docker.io: mirror/central http://127.0.0.1:9 -> canonical http://127.0.0.1:11"))
        #expect(lines.contains("  quay.io: mirror/central http://127.0.0.1:9 -> mirror/quay-only http://127.0.0.1:10 -> canonical http://127.0.0.1:12"))
        #expect(lines.last?.hasPrefix("strata stopped after ") == true && lines.last?.hasSuffix(", 0 requests served") == true)
        // Hummingbird's own lines would repeat the addresses.
        #expect(!output.contains("Server started"))
    }
}

extension Integration.CommandLine {
    /// `strata requests --follow` into a file (not a terminal): every request printed once,
    /// as it comes, and nothing printed again while nothing happens.
    @Test func requestsFollowPrintsEachRequestOnceAsItComes() async throws {
        let (upstream, _) = try await SharedUpstream.shared.get()
        let strata = try await StrataInstance.start(canonical: upstream.url)
        defer { Task { await strata.stop() } }
        let binary = try #require(Self.binary)
        for path in ["/v2/", "/v2/library/small/manifests/1", "/v2/library/small/tags/list"] { _ = try await fetch(strata.url + path) }
        let dir = makeTempDirectory("follow")
        let follow = try ChildProcess(name: "strata-requests", executable: binary, arguments: ["requests", "--follow", "--admin", strata.adminURL],
                                      logPath: "\(dir)/follow.log")
        defer { follow.stop(signal: SIGTERM) }
        func lines() -> [String] { follow.log().split(separator: "\n").map(String.init) }
        func until(_ count: Int) async throws {
            let deadline = ContinuousClock.now + .seconds(20)
            while lines().count < count && ContinuousClock.now < deadline { await Task.yield() }
        }
        try await until(3)
        #expect(lines().count == 3, "\(lines())")
        // Each new request comes out on the next poll; by the second one, two polls have
        // passed over the older records.
        _ = try await fetch(strata.url + "/v2/library/small/manifests/latest")
        try await until(4)
        _ = try await fetch(strata.url + "/v2/library/none/manifests/1")
        try await until(5)
        let printed = lines()
        #expect(printed.count == 5 && Set(printed).count == 5, "\(printed)")
        #expect(printed.last?.contains("/v2/library/none/manifests/1") == true)
    }
}
