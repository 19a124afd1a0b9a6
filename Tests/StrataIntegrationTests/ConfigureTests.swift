import Foundation
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
