/// An image reference as people write it: `alpine`, `library/alpine:3.20`,
/// `ghcr.io/org/app:1`, `registry:5000/app@sha256:...`.
public struct ImageReference: Sendable, Hashable, CustomStringConvertible {
    public let registry: String
    public let repository: RepositoryName
    public let reference: Reference

    public init(registry: String, repository: RepositoryName, reference: Reference) {
        self.registry = registry
        self.repository = repository
        self.reference = reference
    }

    /// The first path component is a registry when it has a `.` or `:` or is `localhost`.
    /// Docker Hub's official images get `library/`.
    public init?(parsing text: String, defaultRegistry: String = "docker.io") {
        var rest = Substring(text)
        var registry = defaultRegistry
        if let slash = rest.firstIndex(of: "/") {
            let first = rest[..<slash]
            if first.contains(".") || first.contains(":") || first == "localhost" {
                registry = String(first)
                rest = rest[rest.index(after: slash)...]
            }
        }
        if registry == "index.docker.io" || registry == "registry-1.docker.io" { registry = "docker.io" }
        guard let latest = try? Tag("latest") else { return nil }
        var reference: Reference = .tag(latest)
        if let at = rest.firstIndex(of: "@") {
            guard let digest = try? Digest(parsing: String(rest[rest.index(after: at)...])) else { return nil }
            reference = .digest(digest)
            rest = rest[..<at]
        } else if let colon = rest.lastIndex(of: ":") {
            guard let tag = try? Tag(String(rest[rest.index(after: colon)...])) else { return nil }
            reference = .tag(tag)
            rest = rest[..<colon]
        }
        var name = String(rest)
        if registry == "docker.io" && !name.contains("/") { name = "library/" + name }
        guard let repository = try? RepositoryName(name) else { return nil }
        self.registry = registry
        self.repository = repository
        self.reference = reference
    }

    public var description: String {
        switch reference {
        case .tag(let tag): "\(registry)/\(repository):\(tag)"
        case .digest(let digest): "\(registry)/\(repository)@\(digest)"
        }
    }
}
