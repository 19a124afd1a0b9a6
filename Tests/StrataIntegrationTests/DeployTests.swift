import Foundation
import StrataServer
import StrataTesting
import Testing
import Yams

/// The files in Deploy/ are checked as far as this machine allows: the systemd unit by
/// `systemd-analyze verify`, every YAML file parsed, every Strata config in them
/// parsed by Strata's own config loader.
@Suite struct DeployFiles {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    func text(_ path: String) throws -> String {
        try String(contentsOfFile: "\(Self.root)/\(path)", encoding: .utf8)
    }

    @Test func systemdUnitVerifies() throws {
        let analyze = try #require(which("systemd-analyze"), "systemd-analyze is not installed (apt-get install systemd)")
        let binary = try #require(Integration.CommandLine.binary)
        // The unit names the installed path; check it against the built binary.
        let unit = try text("Deploy/strata.service").replacingOccurrences(of: "/usr/local/bin/strata", with: binary)
        let dir = makeTempDirectory("unit")
        try unit.write(toFile: "\(dir)/strata.service", atomically: true, encoding: .utf8)
        let result = try runCommand(analyze, ["verify", "\(dir)/strata.service"])
        #expect(result.status == 0)
        #expect(result.output.isEmpty, "systemd-analyze: \(result.output)")
        for key in ["DynamicUser=yes", "StateDirectory=strata", "ProtectSystem=strict", "NoNewPrivileges=yes"] {
            #expect(unit.contains(key))
        }
    }

    @Test func exampleConfigLoads() throws {
        let config = try StrataConfiguration.load(path: "\(Self.root)/Deploy/strata.yml")
        #expect(config.listen == "0.0.0.0:5000")
        #expect(config.maxSize == 50 << 30)
        // Straight to the canonical registries: no tier a new user's network cannot resolve.
        #expect(config.tiers.isEmpty)
        #expect(config.canonical["docker.io"] == "https://registry-1.docker.io")
        #expect(config.prefixes["ghcr"] == "ghcr.io")
    }

    @Test func composeFileDescribesEdgeInFrontOfCentral() throws {
        let compose = try #require(try Yams.load(yaml: try text("Deploy/compose.yaml")) as? [String: Any])
        let services = try #require(compose["services"] as? [String: Any])
        #expect(Set(services.keys) == ["central", "edge"])
        let configs = try #require(compose["configs"] as? [String: [String: Any]])
        let edge = try StrataConfiguration.parse(yaml: try #require(configs["edge"]?["content"] as? String))
        let central = try StrataConfiguration.parse(yaml: try #require(configs["central"]?["content"] as? String))
        #expect(edge.tiers.map(\.url) == ["http://central:5000"])
        #expect(central.tiers.isEmpty)
        #expect(central.canonical["docker.io"] == "https://registry-1.docker.io")
    }

    /// The edge of compose.yaml, started with exactly its config and command (the token
    /// file and the cache in a temp directory), in a network namespace of its own: its
    /// admin port, published to the host, answers probes, sends a browser to sign in,
    /// and signs it in with the token.
    @Test func theComposeEdgesDashboardIsReachableAndSignsIn() throws {
        let binary = try #require(Integration.CommandLine.binary)
        let unshare = try #require(which("unshare"), "unshare is not installed (util-linux)")
        let compose = try #require(try Yams.load(yaml: try text("Deploy/compose.yaml")) as? [String: Any])
        let edge = try #require((compose["services"] as? [String: [String: Any]])?["edge"])
        #expect((edge["ports"] as? [String])?.contains("127.0.0.1:5050:5050") == true)
        #expect((edge["secrets"] as? [String]) == ["strata-admin-token"])
        let command = try #require(edge["command"] as? [String])
        let configs = try #require(compose["configs"] as? [String: [String: Any]])
        let dir = makeTempDirectory("compose-edge")
        try "compose-token\n".write(toFile: "\(dir)/token", atomically: true, encoding: .utf8)
        let config = try #require(configs["edge"]?["content"] as? String)
            .replacingOccurrences(of: "/run/secrets/strata-admin-token", with: "\(dir)/token")
        try config.write(toFile: "\(dir)/strata.yml", atomically: true, encoding: .utf8)
        let args = command.map { $0 == "/etc/strata/strata.yml" ? "\(dir)/strata.yml" : $0 == "/var/lib/strata" ? "\(dir)/cache" : $0 }
        let quoted = ([binary] + args).map { "'\($0)'" }.joined(separator: " ")
        let script = """
            ip link set lo up
            \(quoted) >"\(dir)/strata.log" 2>&1 &
            for _ in $(seq 1 200); do curl -s -o /dev/null http://127.0.0.1:5050/healthz && break; sleep 0.05; done
            curl -s http://127.0.0.1:5050/healthz
            curl -s -o /dev/null -w '%{http_code} %{redirect_url}\\n' -H 'Accept: text/html' http://127.0.0.1:5050/
            curl -s -o /dev/null -w '%{http_code}\\n' http://127.0.0.1:5050/api/stats
            curl -s -o /dev/null -c "\(dir)/cookies" -w '%{http_code}\\n' -H 'Origin: http://127.0.0.1:5050' --data-urlencode token=compose-token http://127.0.0.1:5050/login
            curl -s -o /dev/null -b "\(dir)/cookies" -w '%{http_code}\\n' http://127.0.0.1:5050/api/stats
            kill %1; wait
            """
        let result = try runCommand(unshare, ["-n", "--", "bash", "-c", script])
        let log = (try? String(contentsOfFile: "\(dir)/strata.log", encoding: .utf8)) ?? ""
        #expect(result.output == "ok\n303 http://127.0.0.1:5050/login\n401\n303\n200\n", "\(result.output) \(log)")
    }

    @Test func composeFileDescribesTwoReplicasOnOneBucket() throws {
        let compose = try #require(try Yams.load(yaml: try text("Deploy/compose-replicas.yaml")) as? [String: Any])
        let services = try #require(compose["services"] as? [String: [String: Any]])
        #expect(Set(services.keys) == ["replica-a", "replica-b"])
        let configs = try #require(compose["configs"] as? [String: [String: Any]])
        var replicas: [String: StrataConfiguration] = [:]
        for name in services.keys {
            // What compose substitutes from the environment before Strata reads it.
            let content = try #require(configs[name]?["content"] as? String)
                .replacingOccurrences(of: "${S3_ENDPOINT:?set S3_ENDPOINT to the object store's URL}", with: "http://10.0.0.5:7480")
                .replacingOccurrences(of: "${S3_BUCKET:-strata-central}", with: "strata-central")
            #expect(!content.contains("${"), "\(name) uses a variable the test does not know")
            replicas[name] = try StrataConfiguration.parse(yaml: content)
            let environment = try #require(services[name]?["environment"] as? [String])
            #expect(environment.sorted() == ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"])
        }
        let a = try #require(replicas["replica-a"]?.sharedStore), b = try #require(replicas["replica-b"]?.sharedStore)
        #expect(a.endpoint == b.endpoint && a.bucket == b.bucket && a.prefix == b.prefix)
        // Each tells the other where to fetch what it fills: its own name on the network.
        #expect(a.advertiseURL == "http://replica-a:5000" && b.advertiseURL == "http://replica-b:5000")
        #expect(replicas["replica-a"]?.instanceID != replicas["replica-b"]?.instanceID)
    }

    @Test func kubernetesManifestsParse() throws {
        var kinds: [String] = []
        var shared: [StrataConfiguration] = []
        for file in ["Deploy/kubernetes/strata.yaml", "Deploy/kubernetes/strata-daemonset.yaml", "Deploy/kubernetes/strata-central-replicas.yaml"] {
            for document in try Yams.load_all(yaml: try text(file)) {
                let object = try #require(document as? [String: Any], "\(file)")
                let kind = try #require(object["kind"] as? String)
                #expect(object["apiVersion"] is String)
                kinds.append(kind)
                if kind == "ConfigMap", let data = object["data"] as? [String: String], let yaml = data["strata.yml"] {
                    let config = try StrataConfiguration.parse(yaml: yaml)
                    if config.sharedStore != nil { shared.append(config) }
                }
            }
        }
        #expect(kinds.sorted() == ["ConfigMap", "ConfigMap", "ConfigMap", "DaemonSet", "Deployment", "Namespace", "Namespace", "Namespace",
                                   "PersistentVolumeClaim", "Service", "Service", "StatefulSet"])
        // The replicas' config names a bucket (credentials come from the Secret's environment).
        #expect(shared.map { $0.sharedStore?.bucket } == ["strata-central"])
    }

    /// The image's command, and the systemd unit's, with the bundled config: started
    /// exactly so (only the config and cache paths point into the checkout), inside a
    /// network namespace of its own so that its fixed ports are free; both ports answer.
    @Test func theImagesCommandAndTheUnitStartWithTheBundledConfig() throws {
        let binary = try #require(Integration.CommandLine.binary)
        let unshare = try #require(which("unshare"), "unshare is not installed (util-linux)")
        let dockerfile = try text("Deploy/Dockerfile")
        let cmdLine = try #require(dockerfile.split(separator: "\n").first { $0.hasPrefix("CMD ") })
        let cmd = try #require(try JSONSerialization.jsonObject(with: Data(cmdLine.dropFirst(4).utf8)) as? [String])
        let unit = try text("Deploy/strata.service")
        let execStart = try #require(unit.split(separator: "\n").first { $0.hasPrefix("ExecStart=") })
        let unitArguments = execStart.dropFirst("ExecStart=/usr/local/bin/strata ".count).split(separator: " ").map(String.init)
        for (name, arguments) in [("Dockerfile CMD", cmd), ("strata.service", unitArguments)] {
            let cache = makeTempDirectory("deploy-cache")
            let args = arguments.map { $0 == "/etc/strata/strata.yml" ? "\(Self.root)/Deploy/strata.yml" : $0 == "/var/lib/strata" ? cache : $0 }
            let quoted = ([binary] + args).map { "'\($0)'" }.joined(separator: " ")
            let script = """
                ip link set lo up
                \(quoted) >"\(cache)/strata.log" 2>&1 &
                for _ in $(seq 1 200); do curl -s -o /dev/null http://127.0.0.1:5000/v2/ && break; sleep 0.05; done
                curl -s -o /dev/null -w '%{http_code} ' http://127.0.0.1:5000/v2/
                curl -s http://127.0.0.1:5050/healthz
                kill %1; wait
                """
            let result = try runCommand(unshare, ["-n", "--", "bash", "-c", script])
            let log = (try? String(contentsOfFile: "\(cache)/strata.log", encoding: .utf8)) ?? ""
            #expect(result.output == "200 ok\n", "\(name): \(result.output) \(log)")
        }
    }

    /// Every workload runs as the image's user (uid 10001 in the Dockerfile), with a
    /// pinned image that is not pulled on every start, its cache where its config says,
    /// a node directory handed to that user first, and its namespace in the same file.
    @Test func kubernetesPodsRunAsTheImagesUser() throws {
        #expect(try text("Deploy/Dockerfile").contains("useradd --system --uid 10001"))
        for file in ["Deploy/kubernetes/strata.yaml", "Deploy/kubernetes/strata-daemonset.yaml", "Deploy/kubernetes/strata-central-replicas.yaml"] {
            let documents = try Yams.load_all(yaml: try text(file)).compactMap { $0 as? [String: Any] }
            let namespaces = Set(documents.filter { $0["kind"] as? String == "Namespace" }.compactMap { ($0["metadata"] as? [String: Any])?["name"] as? String })
            var cacheDirs: [String] = []
            for document in documents {
                if let namespace = (document["metadata"] as? [String: Any])?["namespace"] as? String {
                    #expect(namespaces.contains(namespace), "\(file): namespace \(namespace) is not created in the file")
                }
                if document["kind"] as? String == "ConfigMap", let yaml = (document["data"] as? [String: String])?["strata.yml"] {
                    cacheDirs.append(try StrataConfiguration.parse(yaml: yaml).cacheDirectory)
                }
            }
            for workload in documents where ["Deployment", "StatefulSet", "DaemonSet"].contains(workload["kind"] as? String) {
                let spec = try #require(((workload["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any])
                let security = try #require(spec["securityContext"] as? [String: Any], "\(file)")
                #expect(security["runAsUser"] as? Int == 10001 && security["runAsNonRoot"] as? Bool == true, "\(file)")
                let containers = try #require(spec["containers"] as? [[String: Any]])
                for container in containers + ((spec["initContainers"] as? [[String: Any]]) ?? []) {
                    let image = try #require(container["image"] as? String)
                    #expect(!image.hasSuffix(":latest") && image.contains(":"), "\(file): \(image)")
                    #expect(container["imagePullPolicy"] as? String == "IfNotPresent", "\(file)")
                }
                for container in containers {
                    let mounts = (container["volumeMounts"] as? [[String: Any]]) ?? []
                    let cache = try #require(mounts.first { $0["name"] as? String == "cache" }?["mountPath"] as? String)
                    #expect(cacheDirs.contains(cache), "\(file): the cache volume is not where the config keeps the cache")
                }
                let volumes = (spec["volumes"] as? [[String: Any]]) ?? []
                if volumes.contains(where: { $0["hostPath"] != nil }) {
                    let chown = ((spec["initContainers"] as? [[String: Any]]) ?? []).compactMap { $0["command"] as? [String] }
                    #expect(chown.contains { $0.first == "chown" && $0.contains("10001:10001") }, "\(file): a hostPath owned by root")
                }
            }
        }
    }

    /// The image builds what the tests test: the same Swift, the same package versions,
    /// without the checkout's build folder in the context, once for every compose service.
    @Test func theImageBuildsWithTheTestedToolchainAndPackagesOnce() throws {
        let dockerfile = try text("Deploy/Dockerfile")
        let (_, version) = try runCommand("/usr/bin/env", ["swift", "--version"])
        let tested = try #require(version.range(of: #"Swift version (\d+\.\d+)"#, options: .regularExpression).map { version[$0].dropFirst(14) })
        #expect(dockerfile.contains("FROM swift:\(tested)-"), "the image's Swift is not the \(tested) the tests ran with")
        let ignored = try text(".dockerignore").split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(ignored.contains(".build") && ignored.contains("Package.resolved"))
        // Every package at the version this build resolved, so an image built elsewhere gets the same code.
        let manifest = try text("Package.swift")
        #expect(!manifest.contains("from: \""), "a package version left open")
        if let resolved = try? text("Package.resolved") {
            struct Resolved: Decodable { struct Pin: Decodable { struct State: Decodable { let version: String? }; let identity: String; let state: State }; let pins: [Pin] }
            for pin in try JSONDecoder().decode(Resolved.self, from: Data(resolved.utf8)).pins {
                let version = try #require(pin.state.version)
                #expect(manifest.lowercased().contains("/\(pin.identity).git\", exact: \"\(version)\""), "\(pin.identity) \(version) is not pinned")
            }
        }
        for file in ["Deploy/compose.yaml", "Deploy/compose-replicas.yaml"] {
            let compose = try text(file)
            #expect(compose.components(separatedBy: "build: {").count - 1 == 1, "\(file) builds the image once")
            #expect(compose.components(separatedBy: "image: strata:local").count - 1 >= 2, "\(file) names the image its services share")
        }
    }

    @Test func dockerfileCopiesWhatExists() throws {
        let dockerfile = try text("Deploy/Dockerfile")
        #expect(dockerfile.contains("FROM debian:bookworm-slim"))
        for line in dockerfile.split(separator: "\n") where line.hasPrefix("COPY ") && !line.contains("--from") {
            let source = line.split(separator: " ")[1]
            #expect(FileManager.default.fileExists(atPath: "\(Self.root)/\(source)"), "\(line)")
        }
    }
}

/// The configuration reference covers every key the config loader accepts.
@Suite struct ConfigurationReference {
    @Test func everyKeyIsDocumentedAndEveryDocumentedKeyExists() throws {
        let doc = try String(contentsOfFile: "\(DeployFiles.root)/Docs/configuration.md", encoding: .utf8)
        // Keys are the first cell of each table row: | `cache.max_size` | default | meaning |
        var documented = Set<String>()
        for line in doc.split(separator: "\n") where line.hasPrefix("| `") {
            let cell = line.dropFirst(3).prefix { $0 != "`" }
            documented.insert(String(cell))
        }
        let flags = documented.filter { $0.hasPrefix("--") }
        documented.subtract(flags)
        for key in StrataConfiguration.knownKeys {
            #expect(documented.contains(key), "\(key) is not in Docs/configuration.md")
        }
        for key in documented {
            #expect(StrataConfiguration.knownKeys.contains(key), "Docs/configuration.md documents \(key), which the loader does not know")
        }
        // And the loader really takes each documented top-level key.
        #expect(throws: StrataConfiguration.Error.self) { try StrataConfiguration.parse(yaml: "no_such_key: 1") }
    }
}
