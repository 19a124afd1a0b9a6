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
            let mirror = checked(mirror, "--mirror")
            var existing: Data? = nil
            if let merge {
                // A fresh Docker host has no daemon.json: that is an empty one.
                if FileManager.default.fileExists(atPath: merge) {
                    guard let data = FileManager.default.contents(atPath: merge) else { exitWithError("cannot read \(merge)") }
                    existing = data
                }
            }
            do {
                Output.write(try ClientConfigs.dockerDaemonJSON(mirror: mirror, existing: existing), terminator: "")
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
            Output.write(ClientConfigs.containerdHostsTOML(mirror: checked(mirror, "--mirror"), registry: registry,
                                                    upstream: upstream.map { checked($0, "--upstream") }), terminator: "")
        }
    }

    struct Podman: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The registries.conf stanza for podman, skopeo and CRI-O.")
        @Option(name: .long, help: "The mirror's URL.") var mirror = "http://127.0.0.1:5000"
        @Option(name: .long, help: "The registry the mirror stands in for.") var registry = "docker.io"
        @Option(name: .long, help: "A path prefix that Strata maps to the registry (its prefixes: key).") var prefix: String?

        func run() {
            Output.write(ClientConfigs.podmanRegistriesConf(mirror: checked(mirror, "--mirror"), registry: registry, prefix: prefix), terminator: "")
        }
    }
}

/// The URL option checked, or the command ends with a one-line error.
private func checked(_ value: String, _ option: String) -> String {
    do {
        return try ClientConfigs.checkURL(value, option: option)
    } catch {
        exitWithError(error.description)
    }
}
