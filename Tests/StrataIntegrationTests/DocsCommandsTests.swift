import Foundation
import StrataCore
import StrataTesting
import Testing

extension Integration {
    /// The commands in Docs/ and the README, run as written against a Strata on
    /// 127.0.0.1:5000 (admin 5050) in a network and mount namespace of its own, where
    /// `strata.lan` and `edge` name it and a local `docker-registry` holds the images
    /// the docs name (`library/alpine:3.20`, `ghcr.io/org/app:1`, the `lab-*` images).
    ///
    /// A command runs unless it needs what this machine does not run for a test (Docker,
    /// compose, systemd, sudo, TLS certificates, a long-running server or benchmark) or
    /// names a placeholder (`<digest>`); each skip says why. Paths under `/var/lib/strata`,
    /// `/etc/...` and `/tmp` are moved into a temp directory. A command shown with a
    /// `$ ` prompt and an error answer (`strata: ...`, `{"errors": ...}`) must print
    /// exactly that; every other command must exit 0.
    @Suite struct DocsCommands {
        struct Command {
            let file: String
            let line: String
            /// The answer the docs show for it, after a `$ ` prompt.
            let expected: String?

            /// An error answer, compared exactly; any other sample is compared by its shape.
            var expectsError: Bool { expected.map { $0.hasPrefix("strata:") || $0.hasPrefix("{\"errors\"") } ?? false }
        }

        /// Every shell command in the fenced blocks of `files`, continuation lines joined.
        static func commands(in files: [String]) throws -> [Command] {
            var out: [Command] = []
            for file in files {
                let text = try String(contentsOfFile: "\(DeployFiles.root)/\(file)", encoding: .utf8)
                let blocks = text.components(separatedBy: "```").enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
                for block in blocks {
                    let lines = block.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                    let language = lines.first ?? ""
                    let prompted = lines.contains { $0.hasPrefix("$ ") }
                    // Shell blocks, and unlabelled blocks that show a prompt (others are diagrams and output).
                    guard ["sh", "bash", "console"].contains(language) || (language.isEmpty && prompted) else { continue }
                    var index = 1
                    while index < lines.count {
                        var line = lines[index]
                        index += 1
                        if prompted {
                            guard line.hasPrefix("$ ") else { continue }
                            line.removeFirst(2)
                        }
                        while line.hasSuffix("\\"), index < lines.count {
                            line = String(line.dropLast()) + " " + lines[index].trimmingCharacters(in: .whitespaces)
                            index += 1
                        }
                        // A comment after the command (`strata ... # why`) is the reader's, not the shell's.
                        let command = line.replacingOccurrences(of: #"\s+#\s.*$"#, with: "", options: .regularExpression)
                            .trimmingCharacters(in: .whitespaces)
                        guard !command.isEmpty, !command.hasPrefix("#"), Self.isCommand(command) else { continue }
                        var expected: String? = nil
                        if prompted {
                            let answer = lines[index...].prefix { !$0.hasPrefix("$ ") }.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
                            if !answer.isEmpty { expected = answer }
                        }
                        // `a && sudo b`: each step on its own, so the steps that can run here do.
                        let steps = command.components(separatedBy: " && ").map { $0.trimmingCharacters(in: .whitespaces) }
                        for step in steps where Self.isCommand(step) {
                            out.append(Command(file: file, line: step, expected: steps.count == 1 ? expected : nil))
                        }
                    }
                }
            }
            return out
        }

        /// A sample output as a reader compares it with their own: line by line, with the
        /// values that differ from run to run (numbers, digests, ids, times) masked and
        /// runs of spaces (column widths) made one.
        static func shape(_ text: String) -> [String] {
            text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n").map { line in
                var out = String(line)
                for (pattern, token) in [(#"sha256:[0-9a-f]{6,64}"#, "DIGEST"), (#"strata-[0-9a-f]{12}"#, "strata-ID"),
                                         (#"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"#, "TIME"),
                                         (#"\b\d+(\.\d+)? (B|KiB|MiB|GiB|TiB)\b"#, "SIZE"), (#"\b(\d+(\.\d+)?%|n/a)"#, "PERCENT"),
                                         (#"\b\d+[smhd] ago\b"#, "AGE"), (#"\d+(\.\d+)?"#, "N")] {
                    out = out.replacingOccurrences(of: pattern, with: token, options: .regularExpression)
                }
                return out.replacingOccurrences(of: #" +"#, with: " ", options: .regularExpression).trimmingCharacters(in: .whitespaces)
            }.filter { !$0.isEmpty }
        }

        static func isCommand(_ line: String) -> Bool {
            let first = line.split(separator: " ").first.map(String.init) ?? ""
            return ["strata", "curl", "skopeo", "docker", "sudo", "openssl", "swift", "Tests/run.sh", "Tests/bench.sh", "Tests/soak.sh",
                    "Tests/fuzz.sh", "Tests/tsan.sh", "Tests/ensure-packages.sh", "Tests/object-store.sh"].contains(first)
        }

        /// Why a command is not run here, or nil to run it.
        static func skipReason(_ command: String) -> String? {
            let first = command.split(separator: " ").first.map(String.init) ?? ""
            if command.contains("<") && command.contains(">") && command.range(of: #"<[a-z ]+>"#, options: .regularExpression) != nil {
                return "a placeholder"
            }
            if ["docker", "swift"].contains(first) { return "needs \(first) on the host" }
            // `sudo mkdir -p` and `| sudo tee` run here as plain commands into the temp directory; other sudo does not.
            let unsudoed = command.replacingOccurrences(of: "| sudo tee", with: "").replacingOccurrences(of: "sudo mkdir -p", with: "")
            if unsudoed.contains("sudo ") { return "needs sudo on the host (installs into /etc, restarts a daemon)" }
            if first.hasPrefix("Tests/") { return "a test, benchmark or fixture script (CI runs them)" }
            if first == "openssl" { return "writes into the checkout" }
            if command.contains("Deploy/strata-admin-token") { return "the compose deployment's token" }
            if command.contains("https://") || command.contains("--src-cert-dir") || command.contains("/certs.d/strata.lan") {
                return "needs TLS certificates"
            }
            if command.contains("--follow") { return "runs until stopped" }
            if command.hasPrefix("strata serve") && !command.contains("0.0.0.0:5050") && !command.contains("--config strata.yml") {
                return "a server (this test runs one)"
            }
            return nil
        }

        /// The command with host paths moved into `work`, and `sudo tee` as plain `tee`.
        static func localised(_ command: String, work: String) -> String {
            var out = command
            for (from, to) in [("/var/lib/strata", "\(work)/var-lib-strata"), ("/etc/docker/daemon.json", "\(work)/etc-docker-daemon.json"),
                               ("/etc/containerd/certs.d", "\(work)/etc-containerd-certs.d"),
                               ("/etc/containers/registries.conf.d", "\(work)/etc-containers-registries.conf.d"),
                               ("/etc/strata/", "\(work)/etc-strata/"), ("dir:/tmp/", "dir:\(work)/tmp-")] {
                out = out.replacingOccurrences(of: from, with: to)
            }
            return out.replacingOccurrences(of: "| sudo tee", with: "| tee").replacingOccurrences(of: "sudo mkdir -p", with: "mkdir -p")
        }

        @Test func theCommandsInTheDocsRunAsWritten() async throws {
            try #require(getuid() == 0, "needs root for unshare -n -m")
            let binary = try #require(Integration.CommandLine.binary)
            let unshare = try #require(which("unshare"))
            let registryBinary = try #require(DistributionRegistry.executable)
            let work = makeTempDirectory("docs")
            // The images the docs name, pushed to a registry whose data the namespace's registry serves.
            let data = "\(work)/registry"
            let seed = DistributionRegistry(directory: data)
            try await seed.start()
            let pusher = RegistryPusher(baseURL: seed.url)
            let alpine = try ImageFixture.index(platforms: [("linux", "amd64"), ("linux", "arm64")], label: "alpine")
            try await pusher.push(alpine, repository: "library/alpine", tags: ["3.20", "latest"])
            try await pusher.push(try .image(layers: [.random(200 << 10)], label: "app"), repository: "org/app", tags: ["1"])
            try await pusher.push(try .image(layers: [.random(100 << 10)], label: "lab-small"), repository: "library/lab-small", tags: ["1"])
            try await pusher.push(try .index(platforms: [("linux", "amd64"), ("linux", "arm64")], label: "lab-multi"), repository: "library/lab-multi", tags: ["1"])
            try await pusher.push(try .image(format: .docker, layers: [.gzipRandom(100 << 10)], label: "lab-docker"), repository: "library/lab-docker", tags: ["1"])
            seed.stop()

            let files = ["README.md"] + (try FileManager.default.contentsOfDirectory(atPath: "\(DeployFiles.root)/Docs")).filter { $0.hasSuffix(".md") }.sorted().map { "Docs/\($0)" }
            let commands = try Self.commands(in: files)
            #expect(commands.count > 40, "found \(commands.count) commands")
            let run = commands.filter { Self.skipReason($0.line) == nil }
            try FileManager.default.createDirectory(atPath: "\(work)/cwd", withIntermediateDirectories: true)
            // The files the docs' commands read: a config with the misspelt key they show, a list of images.
            try "cache:\n  tag_tll: 10m\n".write(toFile: "\(work)/cwd/strata.yml", atomically: true, encoding: .utf8)
            try "library/alpine:3.20\n# a comment\nghcr.io/org/app:1\n".write(toFile: "\(work)/cwd/images.txt", atomically: true, encoding: .utf8)
            try """
                registry: 127.0.0.1:5001
                tiers:
                  - name: lab
                    url: http://127.0.0.1:5001
                canonical:
                  docker.io: http://127.0.0.1:5001
                  ghcr.io: http://127.0.0.1:5001

                """.write(toFile: "\(work)/serve.yml", atomically: true, encoding: .utf8)
            let config = """
                version: 0.1
                log: {level: error}
                storage: {filesystem: {rootdirectory: \(data)/data}}
                http: {addr: 127.0.0.1:5001}

                """
            try config.write(toFile: "\(work)/registry.yml", atomically: true, encoding: .utf8)
            var script = """
                set -u
                ip link set lo up
                printf '127.0.0.1 localhost strata.lan edge central\\n' > "\(work)/hosts"
                mount --bind "\(work)/hosts" /etc/hosts
                export PATH="\(URL(fileURLWithPath: binary).deletingLastPathComponent().path):$PATH"
                '\(registryBinary)' serve "\(work)/registry.yml" > "\(work)/registry.log" 2>&1 &
                for _ in $(seq 1 200); do curl -s -o /dev/null http://127.0.0.1:5001/v2/ && break; sleep 0.05; done
                sed -i '/^registry:/d' "\(work)/serve.yml"
                strata serve --config "\(work)/serve.yml" --listen 127.0.0.1:5000 --admin-listen 127.0.0.1:5050 \\
                  --cache-dir "\(work)/var-lib-strata" > "\(work)/strata.log" 2>&1 &
                for _ in $(seq 1 200); do curl -s -o /dev/null http://127.0.0.1:5050/healthz && break; sleep 0.05; done
                for image in lab-small lab-multi lab-docker; do
                  skopeo --insecure-policy copy --all --src-tls-verify=false docker://127.0.0.1:5000/library/$image:1 dir:"\(work)/pulled-$image" >> "\(work)/setup.log" 2>&1
                done
                cd "\(work)/cwd"

                """
            for (index, command) in run.enumerated() {
                let line = Self.localised(command.line, work: work)
                // Nothing here may touch the host's own configuration.
                try #require(!line.contains(" /etc/") && !line.contains(" /var/"), "\(command.file): `\(command.line)` names a host path this test does not move")
                script += "( \(line) ) > \"\(work)/out.\(index)\" 2>&1; echo \"\(index) $?\"\n"
            }
            script += "kill %1 %2; wait\n"
            // Kept beside the outputs, for whoever reads a failure.
            try script.write(toFile: "\(work)/script.sh", atomically: true, encoding: .utf8)
            let skipped = commands.compactMap { command in Self.skipReason(command.line).map { "\(command.file): \(command.line)  -- \($0)" } }
            try skipped.joined(separator: "\n").write(toFile: "\(work)/skipped.txt", atomically: true, encoding: .utf8)
            print("docs commands: \(run.count) run, \(skipped.count) skipped:\n" + run.map { "  run  \($0.file): \($0.line)" }.joined(separator: "\n")
                  + "\n" + skipped.map { "  skip \($0)" }.joined(separator: "\n"))
            let result = try runCommand(unshare, ["-n", "-m", "--", "bash", "-c", script])
            var statuses: [Int: Int] = [:]
            for line in result.output.split(separator: "\n") {
                let parts = line.split(separator: " ")
                if parts.count == 2, let i = Int(parts[0]), let status = Int(parts[1]) { statuses[i] = status }
            }
            let strataLog = (try? String(contentsOfFile: "\(work)/strata.log", encoding: .utf8)) ?? ""
            for (index, command) in run.enumerated() {
                let output = ((try? String(contentsOfFile: "\(work)/out.\(index)", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
                if let expected = command.expected, !command.expectsError {
                    // A sample output: what the command prints here, value for value but for the values.
                    #expect(Self.shape(output) == Self.shape(expected), "\(command.file): `\(command.line)` printed\n\(output)\nwhere the docs show\n\(expected)")
                    #expect(statuses[index] == 0, "\(command.file): `\(command.line)` exited \(statuses[index].map(String.init) ?? "?")")
                } else if let expected = command.expected {
                    #expect(output == expected, "\(command.file): `\(command.line)` printed \(output)")
                    if expected.hasPrefix("strata:") {
                        #expect(statuses[index] != nil && statuses[index] != 0, "\(command.file): `\(command.line)` should fail")
                    }
                } else {
                    // An answer that is an error is not what the docs show, even when curl exits 0.
                    if command.line.hasPrefix("curl") {
                        #expect(!output.contains("\"errors\"") && !output.contains("X-Strata-Tier: none"), "\(command.file): `\(command.line)`: \(output.prefix(600))")
                    }
                    #expect(statuses[index] == 0, "\(command.file): `\(command.line)` exited \(statuses[index].map(String.init) ?? "?"): \(output.prefix(600))\n\(strataLog.suffix(400))")
                }
            }
        }
    }
}
