import Foundation
import StrataCore
import StrataTesting
import Testing

extension Integration {
    /// dockerd, containerd and podman pull through Strata, each inside a network
    /// namespace that has only loopback (Tests/e2e/in-netns.sh), with configs made by
    /// `strata configure`. Afterwards the admin API says which tier served each request.
    @Suite struct RealClients {
        struct Record: Decodable {
            let method: String
            let kind: String
            let registry: String?
            let repository: String?
            let reference: String?
            let status: Int
            let tier: String
            let userAgent: String
        }
        struct Ledger: Decodable { let requests: [Record] }

        /// Registry storage for Docker Hub's stand-in and ghcr.io's, filled before the
        /// namespace exists (the namespace's registries serve the same folders).
        static func prepare() async throws -> (work: String, images: TestImages, ghcr: ImageFixture) {
            let work = makeTempDirectory("e2e")
            let hub = DistributionRegistry(directory: "\(work)/hub")
            let ghcr = DistributionRegistry(directory: "\(work)/ghcr")
            try await hub.start()
            try await ghcr.start()
            defer { hub.stop(); ghcr.stop() }
            let images = try TestImages.make(bigLayer: 2 << 20)
            try await images.push(to: hub.url, only: ["library/small", "library/multi", "library/docker-v2s2", "library/docker-list"])
            let tool = try ImageFixture.image(layers: [.gzipRandom(100_000)], label: "ghcr-tool")
            try await RegistryPusher(baseURL: ghcr.url).push(tool, repository: "org/tool", tags: ["1"])
            return (work, images, tool)
        }

        static func run(_ client: String, images: [String], work: String) throws -> (status: Int32, ledger: [Record], log: String) {
            let unshare = try #require(which("unshare"))
            let binary = try #require(CommandLine.binary)
            let script = "\(DeployFiles.root)/Tests/e2e/in-netns.sh"
            var environment = ProcessInfo.processInfo.environment
            environment["WORK"] = work
            environment["STRATA"] = binary
            environment["CLIENT"] = client
            environment["IMAGES"] = images.joined(separator: " ")
            let (status, output) = try runCommand(unshare, ["-n", "--", "bash", script], environment: environment)
            let data = (try? Data(contentsOf: URL(fileURLWithPath: "\(work)/requests.json"))) ?? Data()
            let ledger = (try? JSONDecoder().decode(Ledger.self, from: data))?.requests ?? []
            let log = output + ((try? String(contentsOfFile: "\(work)/client.log", encoding: .utf8)) ?? "")
            return (status, ledger, log)
        }

        static func requireRoot() throws {
            try #require(getuid() == 0, "real clients need root for unshare -n and their daemons")
        }

        @Test func dockerdPullsThroughStrata() async throws {
            try Self.requireRoot()
            try #require(which("dockerd") != nil, "dockerd is not installed (apt-get install docker.io)")
            let (work, images, _) = try await Self.prepare()
            let result = try Self.run("docker", images: ["library/small:1", "library/multi:1", "library/docker-list:1"], work: work)
            #expect(result.status == 0, "\(result.log)")
            for repository in ["library/small", "library/multi", "library/docker-list"] {
                let served = result.ledger.filter { $0.repository == repository && $0.status == 200 }
                #expect(served.contains { $0.kind == "manifest" && $0.method == "HEAD" }, "\(repository): dockerd's HEAD by tag")
                #expect(served.contains { $0.kind == "blob" }, "\(repository): blobs")
                #expect(served.allSatisfy { $0.tier == "canonical" || $0.tier == "local" })
                #expect(served.allSatisfy { $0.userAgent.contains("docker") })
            }
            // Every layer of the platform dockerd runs (linux/amd64) came through Strata.
            let amd64 = try #require(images.multi.children.first)
            for digest in amd64.blobs.keys {
                #expect(result.ledger.contains { $0.reference == digest.description && $0.status == 200 }, "blob \(digest)")
            }
        }

        /// Two replicas on one bucket, dockerd through one and containerd through the other
        /// at the same time, then a third replica with an empty cache and the registry
        /// stopped (Tests/e2e/replicas-in-netns.sh): every blob came from the registry once.
        @Test func dockerdAndContainerdThroughReplicasOnOneBucket() async throws {
            try Self.requireRoot()
            try #require(which("dockerd") != nil && which("containerd") != nil && which("radosgw") != nil,
                         "needs docker.io, containerd and radosgw (apt-get install docker.io containerd radosgw ceph-mon ceph-osd)")
            let (work, images, _) = try await Self.prepare()
            let unshare = try #require(which("unshare"))
            var environment = ProcessInfo.processInfo.environment
            environment["WORK"] = work
            environment["STRATA"] = try #require(CommandLine.binary)
            environment["OBJECT_STORE"] = "\(DeployFiles.root)/Tests/object-store.sh"
            environment["IMAGES"] = "library/small:1 library/docker-v2s2:1"
            let (status, output) = try runCommand(unshare, ["-n", "--", "bash", "\(DeployFiles.root)/Tests/e2e/replicas-in-netns.sh"],
                                                  environment: environment)
            let log = output + ((try? String(contentsOfFile: "\(work)/client.log", encoding: .utf8)) ?? "")
            #expect(status == 0, "\(log)")
            // The registry's access log: blob GETs by Strata, per digest.
            let access = (try? String(contentsOfFile: "\(work)/hub.log", encoding: .utf8)) ?? ""
            var gets: [String: Int] = [:]
            for line in access.split(separator: "\n") where line.contains("\"GET /v2/") && line.contains("/blobs/sha256:") && line.contains("strata") {
                guard let range = line.range(of: #"sha256:[0-9a-f]{64}"#, options: .regularExpression) else { continue }
                gets[String(line[range]), default: 0] += 1
            }
            for image in [images.small, images.docker] {
                for digest in image.blobs.keys {
                    #expect(gets[digest.description] == 1, "\(digest) fetched \(gets[digest.description] ?? 0) times")
                }
            }
        }

        @Test func containerdPullsThroughStrataWithNamespaces() async throws {
            try Self.requireRoot()
            try #require(which("containerd") != nil && which("ctr") != nil, "containerd is not installed (apt-get install containerd)")
            let (work, images, tool) = try await Self.prepare()
            let result = try Self.run("containerd", images: ["docker.io/library/small:1", "docker.io/library/docker-v2s2:1", "ghcr.io/org/tool:1"], work: work)
            #expect(result.status == 0, "\(result.log)")
            let hub = result.ledger.filter { $0.registry == "docker.io" && $0.status == 200 }
            #expect(hub.contains { $0.repository == "library/small" && $0.kind == "manifest" && $0.method == "HEAD" })
            for digest in images.small.blobs.keys {
                #expect(hub.contains { $0.reference == digest.description && $0.tier == "canonical" }, "blob \(digest)")
            }
            let ghcr = result.ledger.filter { $0.registry == "ghcr.io" && $0.status == 200 }
            for digest in tool.blobs.keys {
                #expect(ghcr.contains { $0.reference == digest.description && $0.repository == "org/tool" }, "ghcr.io blob \(digest)")
            }
            #expect(result.ledger.allSatisfy { $0.userAgent.contains("containerd") || $0.kind == "base" })
        }

        @Test func podmanPullsThroughStrataWithAPathPrefix() async throws {
            try Self.requireRoot()
            try #require(which("podman") != nil, "podman is not installed (apt-get install podman)")
            let (work, images, tool) = try await Self.prepare()
            let result = try Self.run("podman", images: ["docker.io/library/small:1", "ghcr.io/org/tool:1"], work: work)
            #expect(result.status == 0, "\(result.log)")
            for digest in images.small.blobs.keys {
                #expect(result.ledger.contains { $0.reference == digest.description && $0.registry == "docker.io" && $0.status == 200 }, "blob \(digest)")
            }
            // ghcr.io came through the path prefix (location = "127.0.0.1:5000/ghcr").
            for digest in tool.blobs.keys {
                #expect(result.ledger.contains { $0.reference == digest.description && $0.registry == "ghcr.io" && $0.status == 200 }, "ghcr.io blob \(digest)")
            }
        }
    }
}
