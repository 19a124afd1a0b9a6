import Foundation
import StrataCore
import Yams

/// Everything `strata serve` is configured with. Every key has a default, so no file
/// at all gives a working Docker Hub mirror.
public struct StrataConfiguration: Sendable, Equatable {
    public struct Tier: Sendable, Equatable {
        public var name: String
        public var url: String
        public var username: String?
        public var password: String?
        /// Registries this tier serves; empty means all.
        public var registries: [String] = []
        public var connectTimeout: TimeInterval = 2
        /// Longest wait for the first byte of an answer, and between bytes of a body.
        public var firstByteTimeout: TimeInterval = 30

        public init(name: String, url: String, username: String? = nil, password: String? = nil, registries: [String] = [],
                    connectTimeout: TimeInterval = 2, firstByteTimeout: TimeInterval = 30) {
            self.name = name
            self.url = url
            self.username = username
            self.password = password
            self.registries = registries
            self.connectTimeout = connectTimeout
            self.firstByteTimeout = firstByteTimeout
        }
    }

    public struct Login: Sendable, Equatable {
        public var username: String
        public var password: String

        public init(username: String, password: String) {
            self.username = username
            self.password = password
        }
    }

    public var listen = "0.0.0.0:5000"
    public var cacheDirectory = "./strata-cache"
    public var tagTTL: TimeInterval = 600
    public var cacheOnly = false
    public var defaultRegistry = "docker.io"
    public var tiers: [Tier] = []
    public var canonical: [String: String] = ["docker.io": "https://registry-1.docker.io"]
    /// Logins by upstream host (`host` or `host:port`).
    public var credentials: [String: Login] = [:]
    public var logLevel = "info"
    public var connectTimeout: TimeInterval = 2
    public var firstByteTimeout: TimeInterval = 60
    /// How long "not found in any tier" is remembered.
    public var negativeTTL: TimeInterval = 30
    /// This instance's id in `Via` (loop detection); random at each start when unset.
    public var instanceID: String?
    /// Repository-name prefixes that select a registry, e.g. `ghcr: ghcr.io`.
    public var prefixes: [String: String] = [:]
    /// Consecutive failures that open a tier's breaker, and how long it stays open.
    public var breakerFailures = 3
    public var breakerCoolOff: TimeInterval = 30
    /// The cache's size bound; nil means unbounded.
    public var maxSize: Int64?
    /// Content not requested for this long is removed.
    public var maxIdle: TimeInterval = 30 * 86400
    /// Images whose content is never evicted.
    public var pins: [String] = []
    /// How often the janitor runs when nothing else wakes it.
    public var evictionInterval: TimeInterval = 60
    /// Images kept warm in the background, refreshed every `prefetchRefresh`.
    public var prefetchImages: [String] = []
    public var prefetchPlatforms: [String]? = nil
    public var prefetchRefresh: TimeInterval = 6 * 3600
    /// A certificate chain and key (PEM) to serve the registry and admin ports over TLS.
    public var tlsCertificate: String?
    public var tlsKey: String?
    /// An htpasswd file (bcrypt) that clients of the registry port must log in against.
    public var htpasswd: String?
    /// The admin port; nil turns it off.
    public var adminListen: String? = "127.0.0.1:5050"
    /// A file holding the admin bearer token; required when `adminListen` is not loopback.
    public var adminTokenFile: String?
    /// A JSON-lines file that gets every ledger record.
    public var adminAccessLog: String?
    /// How many requests the ledger keeps in memory.
    public var ledgerSize = 10_000
    /// Re-hash every stored blob this often in the background (0: never).
    public var scrubInterval: TimeInterval = 86400
    /// Bytes per second the scrub reads, at most.
    public var scrubRate: Int64 = 64 << 20
    /// Limits that keep one client or one upstream from exhausting Strata.
    public var limits = Limits()

    /// Timeouts and sizes with defaults; `limits:` in the file.
    public struct Limits: Sendable, Equatable {
        /// A client's request head must arrive within this after it connects or after its last answer.
        public var headerTimeout: TimeInterval = 10
        /// A keep-alive connection with no request in flight is closed after this.
        public var idleTimeout: TimeInterval = 60
        /// Open client connections on the registry port; more are closed at once.
        public var maxConnections = 4096
        /// An upstream body slower than this (bytes per second, over `upstreamRateWindow`)
        /// is abandoned; the fill moves on to the next tier with `Range`.
        public var minUpstreamRate: Int64 = 10 << 10
        public var upstreamRateWindow: TimeInterval = 30
        /// Largest manifest taken from upstream.
        public var maxManifestSize: Int64 = 4 << 20
        /// Largest token answer taken from a token realm.
        public var maxTokenSize: Int64 = 1 << 20
        public init() {}
    }

    public init() {}

    /// Every key the file may hold, for the configuration reference and its test.
    public static let knownKeys: [String] = [
        "listen", "admin_listen", "admin.token_file", "admin.access_log", "admin.ledger_size", "log_level", "mode", "default_registry", "connect_timeout", "first_byte_timeout", "instance_id",
        "cache.dir", "cache.tag_ttl", "cache.negative_ttl", "cache.max_size", "cache.max_idle", "cache.pins", "cache.eviction_interval",
        "cache.scrub_interval", "cache.scrub_rate",
        "limits.header_timeout", "limits.idle_timeout", "limits.max_connections", "limits.min_upstream_rate",
        "limits.upstream_rate_window", "limits.max_manifest_size", "limits.max_token_size",
        "breaker.failures", "breaker.cool_off",
        "prefetch.images", "prefetch.platforms", "prefetch.refresh",
        "prefixes.<prefix>", "tls.cert", "tls.key", "auth.htpasswd",
        "tiers", "tiers[].name", "tiers[].url", "tiers[].registries", "tiers[].connect_timeout", "tiers[].first_byte_timeout",
        "tiers[].credentials.username", "tiers[].credentials.password", "tiers[].credentials.password_file",
        "canonical.<registry>",
        "credentials.<host>.username", "credentials.<host>.password", "credentials.<host>.password_file",
    ]

    public struct Error: Swift.Error, CustomStringConvertible, Equatable {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// Parses a YAML file's text. Unknown keys and bad values are errors that name the key.
    public static func parse(yaml text: String) throws(Error) -> StrataConfiguration {
        var config = StrataConfiguration()
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { return config }
            root = node
        } catch {
            throw Error("config is not valid YAML: \(error)")
        }
        for (key, value) in try mapping(root, "the top level") {
            try config.apply(key, value)
        }
        return config
    }

    public static func load(path: String) throws(Error) -> StrataConfiguration {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw Error("cannot read config file \(path)")
        }
        return try parse(yaml: text)
    }

    // MARK: Node helpers

    private static func mapping(_ node: Node, _ key: String) throws(Error) -> [(String, Node)] {
        guard case .mapping(let map) = node else { throw Error("config: \(key) must be a mapping") }
        var out: [(String, Node)] = []
        for (k, v) in map {
            guard case .scalar(let scalar) = k else { throw Error("config: keys of \(key) must be strings") }
            out.append((scalar.string, v))
        }
        return out
    }

    private static func string(_ node: Node, _ key: String) throws(Error) -> String {
        guard case .scalar(let scalar) = node else { throw Error("config: \(key) must be a string") }
        return scalar.string
    }

    private static func strings(_ node: Node, _ key: String) throws(Error) -> [String] {
        guard case .sequence(let items) = node else { throw Error("config: \(key) must be a list") }
        var list: [String] = []
        for item in items { list.append(try string(item, key)) }
        return list
    }

    /// A list of image references, each checked as one.
    private static func images(_ node: Node, _ key: String) throws(Error) -> [String] {
        let list = try strings(node, key)
        for image in list where ImageReference(parsing: image) == nil {
            throw Error("config: \(key): \"\(image)\" is not an image reference")
        }
        return list
    }

    private static func size(_ node: Node, _ key: String, minimum: Int64, maximum: Int64 = 1 << 62) throws(Error) -> Int64 {
        let text = try string(node, key)
        guard let size = ConfigValues.size(text), size >= minimum, size <= maximum else {
            throw Error("config: \(key) must be a size like 64MiB from \(minimum) to \(maximum) bytes, not \"\(text)\"")
        }
        return size
    }

    private static func positive(_ value: TimeInterval, _ key: String) throws(Error) -> TimeInterval {
        guard value > 0 else { throw Error("config: \(key) must be longer than 0s") }
        return value
    }

    private static func duration(_ node: Node, _ key: String) throws(Error) -> TimeInterval {
        let text = try string(node, key)
        guard let value = ConfigValues.duration(text) else { throw Error("config: \(key) must be a duration like 30s, 10m or 1h, not \"\(text)\"") }
        return value
    }

    private static func address(_ node: Node, _ key: String) throws(Error) -> String {
        let text = try string(node, key)
        guard ConfigValues.address(text) != nil else { throw Error("config: \(key) must be host:port, not \"\(text)\"") }
        return text
    }

    private static func url(_ node: Node, _ key: String) throws(Error) -> String {
        let text = try string(node, key)
        guard let url = URL(string: text), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw Error("config: \(key) must be an http:// or https:// URL, not \"\(text)\"")
        }
        return text
    }

    private static func login(_ node: Node, _ key: String) throws(Error) -> Login {
        var username: String?
        var password: String?
        for (k, v) in try mapping(node, key) {
            switch k {
            case "username": username = try string(v, "\(key).username")
            case "password": password = try string(v, "\(key).password")
            case "password_file":
                let path = try string(v, "\(key).password_file")
                guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                    throw Error("config: \(key).password_file: cannot read \(path)")
                }
                password = text.trimmingCharacters(in: .newlines)
            default: throw Error("config: unknown key \"\(key).\(k)\"")
            }
        }
        guard let username, let password else { throw Error("config: \(key) needs username and password or password_file") }
        return Login(username: username, password: password)
    }

    private static func tier(_ node: Node, _ key: String) throws(Error) -> Tier {
        var name: String?
        var urlText: String?
        var tier = Tier(name: "", url: "")
        for (k, v) in try mapping(node, key) {
            switch k {
            case "name": name = try string(v, "\(key).name")
            case "url": urlText = try url(v, "\(key).url")
            case "connect_timeout": tier.connectTimeout = try duration(v, "\(key).connect_timeout")
            case "first_byte_timeout": tier.firstByteTimeout = try duration(v, "\(key).first_byte_timeout")
            case "registries":
                tier.registries = try strings(v, "\(key).registries")
            case "credentials":
                let login = try login(v, "\(key).credentials")
                tier.username = login.username
                tier.password = login.password
            default: throw Error("config: unknown key \"\(key).\(k)\"")
            }
        }
        guard let name, !name.isEmpty, let urlText else { throw Error("config: \(key) needs name and url") }
        tier.name = name
        tier.url = urlText
        return tier
    }
}

/// The file's keys, a method a section: each value is checked and applied, and a key
/// the loader does not know is an error that names it.
extension StrataConfiguration {
    /// A top-level key.
    mutating func apply(_ key: String, _ value: Node) throws(Error) {
        switch key {
        case "admin": try applyAdmin(value)
        case "prefetch": try applyPrefetch(value)
        case "tls": try applyTLS(value)
        case "auth": try applyAuth(value)
        case "breaker": try applyBreaker(value)
        case "cache": try applyCache(value)
        case "limits": try applyLimits(value)
        case "tiers": try applyTiers(value)
        case "prefixes", "canonical", "credentials": try applyMap(key, value)
        default: try applyValue(key, value)
        }
    }

    /// A top-level key with a single value.
    private mutating func applyValue(_ key: String, _ value: Node) throws(Error) {
        switch key {
        case "listen":
            self.listen = try Self.address(value, key)
        case "admin_listen":
            let text = try Self.string(value, key)
            if text == "off" {
                self.adminListen = nil
            } else {
                self.adminListen = try Self.address(value, key)
            }
        case "log_level":
            let level = try Self.string(value, key)
            guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(level) else {
                throw Error("config: log_level must be one of trace, debug, info, notice, warning, error, critical")
            }
            self.logLevel = level
        case "mode":
            switch try Self.string(value, key) {
            case "normal": self.cacheOnly = false
            case "cache-only": self.cacheOnly = true
            case let other: throw Error("config: mode must be normal or cache-only, not \"\(other)\"")
            }
        case "default_registry":
            self.defaultRegistry = try Self.string(value, key)
        case "connect_timeout":
            self.connectTimeout = try Self.duration(value, key)
        case "first_byte_timeout":
            self.firstByteTimeout = try Self.duration(value, key)
        case "instance_id":
            let id = try Self.string(value, key)
            guard !id.isEmpty, id.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }) else {
                throw Error("config: instance_id may hold only letters, digits, '-', '_' and '.'")
            }
            self.instanceID = id
        default:
            throw Error("config: unknown key \"\(key)\"")
        }
    }

    /// A top-level key that maps names to values.
    private mutating func applyMap(_ key: String, _ value: Node) throws(Error) {
        switch key {
        case "prefixes":
            for (prefix, registry) in try Self.mapping(value, key) {
                guard !prefix.isEmpty, !prefix.contains("/") else { throw Error("config: prefixes: \"\(prefix)\" must be one path component") }
                self.prefixes[prefix] = try Self.string(registry, "prefixes.\(prefix)")
            }
        case "canonical":
            var map: [String: String] = [:]
            for (registry, target) in try Self.mapping(value, key) {
                map[registry] = try Self.url(target, "canonical.\(registry)")
            }
            self.canonical = map
        case "credentials":
            for (host, login) in try Self.mapping(value, key) {
                self.credentials[host] = try Self.login(login, "credentials.\(host)")
            }
        default:
            throw Error("config: unknown key \"\(key)\"")
        }
    }

    private mutating func applyAdmin(_ value: Node) throws(Error) {
        for (akey, avalue) in try Self.mapping(value, "admin") {
            switch akey {
            case "token_file": self.adminTokenFile = try Self.string(avalue, "admin.token_file")
            case "access_log": self.adminAccessLog = try Self.string(avalue, "admin.access_log")
            case "ledger_size":
                guard let n = Int(try Self.string(avalue, "admin.ledger_size")), (1...10_000_000).contains(n) else {
                    throw Error("config: admin.ledger_size must be a whole number from 1 to 10000000")
                }
                self.ledgerSize = n
            default: throw Error("config: unknown key \"admin.\(akey)\"")
            }
        }
    }

    private mutating func applyPrefetch(_ value: Node) throws(Error) {
        for (pkey, pvalue) in try Self.mapping(value, "prefetch") {
            switch pkey {
            case "refresh": self.prefetchRefresh = try Self.duration(pvalue, "prefetch.refresh")
            case "images": self.prefetchImages = try Self.images(pvalue, "prefetch.images")
            case "platforms": self.prefetchPlatforms = try Self.strings(pvalue, "prefetch.platforms")
            default: throw Error("config: unknown key \"prefetch.\(pkey)\"")
            }
        }
    }

    private mutating func applyTLS(_ value: Node) throws(Error) {
        for (tkey, tvalue) in try Self.mapping(value, "tls") {
            switch tkey {
            case "cert": self.tlsCertificate = try Self.string(tvalue, "tls.cert")
            case "key": self.tlsKey = try Self.string(tvalue, "tls.key")
            default: throw Error("config: unknown key \"tls.\(tkey)\"")
            }
        }
        guard (self.tlsCertificate == nil) == (self.tlsKey == nil) else { throw Error("config: tls needs both cert and key") }
    }

    private mutating func applyAuth(_ value: Node) throws(Error) {
        for (akey, avalue) in try Self.mapping(value, "auth") {
            switch akey {
            case "htpasswd": self.htpasswd = try Self.string(avalue, "auth.htpasswd")
            default: throw Error("config: unknown key \"auth.\(akey)\"")
            }
        }
    }

    private mutating func applyBreaker(_ value: Node) throws(Error) {
        for (bkey, bvalue) in try Self.mapping(value, "breaker") {
            switch bkey {
            case "failures":
                guard let n = Int(try Self.string(bvalue, "breaker.failures")), n >= 1 else { throw Error("config: breaker.failures must be a whole number of at least 1") }
                self.breakerFailures = n
            case "cool_off": self.breakerCoolOff = try Self.duration(bvalue, "breaker.cool_off")
            default: throw Error("config: unknown key \"breaker.\(bkey)\"")
            }
        }
    }

    private mutating func applyCache(_ value: Node) throws(Error) {
        for (ckey, cvalue) in try Self.mapping(value, "cache") {
            switch ckey {
            case "dir": self.cacheDirectory = try Self.string(cvalue, "cache.dir")
            case "tag_ttl": self.tagTTL = try Self.duration(cvalue, "cache.tag_ttl")
            case "negative_ttl": self.negativeTTL = try Self.duration(cvalue, "cache.negative_ttl")
            case "max_size":
                let text = try Self.string(cvalue, "cache.max_size")
                guard let size = ConfigValues.size(text), size > 0 else {
                    throw Error("config: cache.max_size must be a size like 50GiB or 500MB, not \"\(text)\"")
                }
                self.maxSize = size
            case "max_idle": self.maxIdle = try Self.duration(cvalue, "cache.max_idle")
            case "eviction_interval": self.evictionInterval = try Self.duration(cvalue, "cache.eviction_interval")
            case "pins": self.pins = try Self.images(cvalue, "cache.pins")
            case "scrub_interval": self.scrubInterval = try Self.duration(cvalue, "cache.scrub_interval")
            case "scrub_rate": self.scrubRate = try Self.size(cvalue, "cache.scrub_rate", minimum: 1)
            default: throw Error("config: unknown key \"cache.\(ckey)\"")
            }
        }
    }

    private mutating func applyLimits(_ value: Node) throws(Error) {
        for (lkey, lvalue) in try Self.mapping(value, "limits") {
            let name = "limits.\(lkey)"
            switch lkey {
            case "header_timeout": self.limits.headerTimeout = try Self.positive(Self.duration(lvalue, name), name)
            case "idle_timeout": self.limits.idleTimeout = try Self.positive(Self.duration(lvalue, name), name)
            case "max_connections":
                guard let n = Int(try Self.string(lvalue, name)), (1...1_000_000).contains(n) else {
                    throw Error("config: \(name) must be a whole number from 1 to 1000000")
                }
                self.limits.maxConnections = n
            case "min_upstream_rate": self.limits.minUpstreamRate = try Self.size(lvalue, name, minimum: 0)
            case "upstream_rate_window": self.limits.upstreamRateWindow = try Self.positive(Self.duration(lvalue, name), name)
            case "max_manifest_size": self.limits.maxManifestSize = try Self.size(lvalue, name, minimum: 1024, maximum: 1 << 30)
            case "max_token_size": self.limits.maxTokenSize = try Self.size(lvalue, name, minimum: 1024, maximum: 64 << 20)
            default: throw Error("config: unknown key \"\(name)\"")
            }
        }
    }

    private mutating func applyTiers(_ value: Node) throws(Error) {
        guard case .sequence(let items) = value else { throw Error("config: tiers must be a list") }
        var tiers: [Tier] = []
        for (i, item) in items.enumerated() { tiers.append(try Self.tier(item, "tiers[\(i)]")) }
        self.tiers = tiers
        let names = self.tiers.map(\.name)
        if Set(names).count != names.count { throw Error("config: tier names must be unique") }
    }
}
