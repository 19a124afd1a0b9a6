import ArgumentParser
import Foundation
import StrataServer

/// `strata configure`: print the client configuration that uses this mirror.
struct Configure: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print client configuration that points Docker, containerd or podman at Strata.",
        subcommands: [Docker.self, Containerd.self, Podman.self])

    struct Docker: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "dockerd's daemon.json with registry-mirrors set.")
        @Option(name: .long, help: "The mirror's URL.") var mirror = "http://127.0.0.1:5000"
        @Option(name: .long, help: "An existing daemon.json to merge into (every other key is kept).") var merge: String?

        func run() throws {
            var existing: Data? = nil
            if let merge {
                guard let data = FileManager.default.contents(atPath: merge) else { exitWithError("cannot read \(merge)") }
                existing = data
            }
            do {
                print(try ClientConfigs.dockerDaemonJSON(mirror: mirror, existing: existing), terminator: "")
            } catch {
                exitWithError("\(merge ?? "daemon.json"): \(error.description)")
            }
        }
    }

    struct Containerd: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "containerd's certs.d/<registry>/hosts.toml.")
        @Option(name: .long, help: "The mirror's URL.") var mirror = "http://127.0.0.1:5000"
        @Option(name: .long, help: "The registry the mirror stands in for.") var registry = "docker.io"
        @Option(name: .long, help: "The registry's own URL (default: the registry's well-known one).") var upstream: String?

        func run() {
            print(ClientConfigs.containerdHostsTOML(mirror: mirror, registry: registry, upstream: upstream), terminator: "")
        }
    }

    struct Podman: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The registries.conf stanza for podman, skopeo and CRI-O.")
        @Option(name: .long, help: "The mirror's URL.") var mirror = "http://127.0.0.1:5000"
        @Option(name: .long, help: "The registry the mirror stands in for.") var registry = "docker.io"
        @Option(name: .long, help: "A path prefix that Strata maps to the registry (its prefixes: key).") var prefix: String?

        func run() {
            print(ClientConfigs.podmanRegistriesConf(mirror: mirror, registry: registry, prefix: prefix), terminator: "")
        }
    }
}
