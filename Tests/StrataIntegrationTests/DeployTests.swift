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
        #expect(config.tiers.map(\.name) == ["central"])
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
        #expect(kinds.sorted() == ["ConfigMap", "ConfigMap", "ConfigMap", "DaemonSet", "Deployment", "Namespace", "PersistentVolumeClaim",
                                   "Service", "Service", "StatefulSet"])
        // The replicas' config names a bucket (credentials come from the Secret's environment).
        #expect(shared.map { $0.sharedStore?.bucket } == ["strata-central"])
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
