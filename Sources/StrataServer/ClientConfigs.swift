import Foundation

/// Client configuration that points Docker, containerd and podman at a Strata mirror.
public enum ClientConfigs {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// A mirror's (or registry's) URL as the clients need it: `http://` or `https://`, a
    /// host, an optional port, nothing after. dockerd refuses to start with a mirror
    /// without a scheme, so such a value is refused here, before it reaches a client.
    public static func checkURL(_ text: String, option: String) throws(Failure) -> String {
        var trimmed = text
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let url = URL(string: trimmed), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty, url.path.isEmpty, url.query == nil, url.fragment == nil, url.user == nil else {
            throw Failure(description: "\(option) must be a URL like http://strata.lan:5000 (scheme, host, port), not \"\(text)\"")
        }
        return trimmed
    }

    /// dockerd's `daemon.json` with `registry-mirrors` set, merged into `existing`
    /// (every other key kept; the mirror added first, without duplicates).
    public static func dockerDaemonJSON(mirror: String, existing: Data? = nil) throws(Failure) -> String {
        var object: [String: Any] = [:]
        if let existing, !existing.isEmpty {
            guard let parsed = try? JSONSerialization.jsonObject(with: existing) as? [String: Any] else {
                throw Failure(description: "the existing daemon.json is not a JSON object")
            }
            object = parsed
        }
        var mirrors = (object["registry-mirrors"] as? [String]) ?? []
        mirrors.removeAll { $0 == mirror }
        mirrors.insert(mirror, at: 0)
        object["registry-mirrors"] = mirrors
        if mirror.hasPrefix("http://"), let url = URL(string: mirror), let name = url.host {
            let host = url.port.map { "\(name):\($0)" } ?? name
            // A plain-HTTP mirror must be listed as insecure, or dockerd will not use it.
            var insecure = (object["insecure-registries"] as? [String]) ?? []
            if !insecure.contains(host) { insecure.append(host) }
            object["insecure-registries"] = insecure
        }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) else {
            throw Failure(description: "cannot encode daemon.json")
        }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// containerd's `certs.d/<registry>/hosts.toml`: Strata first, then the registry itself.
    public static func containerdHostsTOML(mirror: String, registry: String = "docker.io", upstream: String? = nil) -> String {
        let server = upstream ?? (registry == "docker.io" ? "https://registry-1.docker.io" : "https://\(registry)")
        let toml = """
            # /etc/containerd/certs.d/\(registry)/hosts.toml
            # containerd asks Strata first (it appends ?ns=\(registry)), then \(server).
            server = "\(server)"

            [host."\(mirror)"]
              capabilities = ["pull", "resolve"]

            """
        return toml
    }

    /// podman's and CRI-O's `registries.conf` stanza, with an optional path prefix that
    /// Strata maps to a registry (`prefixes:` in its config).
    public static func podmanRegistriesConf(mirror: String, registry: String = "docker.io", prefix: String? = nil) -> String {
        var location = mirror.replacingOccurrences(of: "http://", with: "").replacingOccurrences(of: "https://", with: "")
        while location.hasSuffix("/") { location.removeLast() }
        if let prefix, !prefix.isEmpty { location += "/" + prefix }
        let insecure = mirror.hasPrefix("https://") ? "false" : "true"
        return """
            # /etc/containers/registries.conf (or a file in registries.conf.d/)
            [[registry]]
            location = "\(registry)"

            [[registry.mirror]]
            location = "\(location)"
            insecure = \(insecure)

            """
    }
}
