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
        /// Token realms the tier's credentials may be sent to (see ``Login/realms``).
        public var realms: [String] = []
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
        /// Token realms (`https://auth.example/token`) these credentials may be sent to,
        /// besides the upstream's own origin and its sibling hosts over https.
        public var realms: [String]

        public init(username: String, password: String, realms: [String] = []) {
            self.username = username
            self.password = password
            self.realms = realms
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
    /// A tag deleted upstream (every tier says "not found") is still served, as stale,
    /// instead of answering `404` (`cache.deleted_tags: keep`).
    public var keepDeletedTags = false
    /// How long a referrers list (OCI 1.1) is served without asking upstream.
    public var referrersTTL: TimeInterval = 60
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
    /// The object store shared by the replicas of a central mirror (`store.s3`); nil: none.
    public var sharedStore: SharedStore?

    /// An S3 bucket between this replica's disk and its upstream tiers.
    public struct SharedStore: Sendable, Equatable {
        public var endpoint: String
        public var bucket: String
        public var region = "us-east-1"
        /// Prepended to every key, so that several mirrors can share a bucket.
        public var prefix = ""
        /// `endpoint/bucket/key`; off means `bucket.endpoint/key` (virtual hosts).
        public var pathStyle = true
        /// From `access_key_file`/`secret_key_file`; nil means the `AWS_*` environment variables.
        public var accessKey: String?
        public var secretKey: String?
        /// Where the other replicas reach this one's registry port, for fills they share;
        /// nil: derived from `listen` when that is a specific address.
        public var advertiseURL: String?
        /// The bucket's bound (nil: none) and how long a blob nobody asked for stays.
        public var maxSize: Int64?
        public var maxIdle: TimeInterval = 30 * 86400
        /// PEM certificates to trust for an `https` endpoint instead of the system's CAs.
        public var caFile: String?

        public init(endpoint: String, bucket: String) {
            self.endpoint = endpoint
            self.bucket = bucket
        }
    }

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
        /// Ranged GETs at once for one large cold blob (1: one connection per fill).
        public var rangedFillConnections = 8
        /// A cold blob at least this large is fetched in parallel ranges.
        public var rangedFillThreshold: Int64 = 64 << 20
        public init() {}
    }

    public init() {}

    /// Every key the file may hold, for the configuration reference and its test:
    /// taken from the file sections' coding keys.
    public static var knownKeys: [String] { ConfigFile.allKeyPaths }

    public struct Error: Swift.Error, CustomStringConvertible, Equatable {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// Parses a YAML file's text. Unknown keys and bad values are errors that name the key.
    public static func parse(yaml text: String) throws(Error) -> StrataConfiguration {
        var config = StrataConfiguration()
        do {
            guard try Yams.compose(yaml: text) != nil else { return config }
        } catch {
            throw Error("config is not valid YAML: \(Self.oneLine(error))")
        }
        let file: ConfigFile
        do {
            file = try YAMLDecoder().decode(Strict<ConfigFile>.self, from: text).value
        } catch let error as UnknownKey {
            throw Error("config: unknown key \"\(keyPath(error.path))\"")
        } catch let error as DecodingError {
            if case .dataCorrupted(let context) = error, let unknown = context.underlyingError as? UnknownKey {
                throw Error("config: unknown key \"\(keyPath(unknown.path))\"")
            }
            throw Error(Self.explain(error))
        } catch {
            throw Error("config is not valid YAML: \(Self.oneLine(error))")
        }
        try config.apply(file)
        return config
    }

    /// A YAML error in one line: the scanner's position and its words, without the
    /// quoted source and caret it adds below them.
    static func oneLine(_ error: any Swift.Error) -> String {
        if let yaml = error as? YamlError {
            switch yaml {
            case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _):
                let what = [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
                return "line \(mark.line), column \(mark.column): \(what)"
            default:
                break
            }
        }
        return "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
    }

    /// A value of the wrong shape, in the file's terms.
    private static func explain(_ error: DecodingError) -> String {
        switch error {
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            let path = keyPath(context.codingPath)
            let shape = type == Node.Sequence.self ? "a list" : type == Node.Mapping.self ? "a mapping" : "a string"
            return "config: \(path.isEmpty ? "the top level" : path) must be \(shape)"
        case .keyNotFound(let key, let context):
            return "config: \(keyPath(context.codingPath + [key])) is missing"
        case .dataCorrupted(let context):
            return "config: \(keyPath(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "config: \(error)"
        }
    }

    public static func load(path: String) throws(Error) -> StrataConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Error("cannot read config file \(path): \(UnreadableFile.reason(path))")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw Error("config file \(path) is not UTF-8 text") }
        return try parse(yaml: text)
    }
}
