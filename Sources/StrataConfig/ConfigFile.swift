import Foundation
import Yams

/// A section of the config file: decoded as written (strings, lists, maps), its keys
/// those of its `CodingKeys`. A key the section does not declare is an error.
protocol ConfigSection: Decodable {
    associatedtype CodingKeys: CodingKey & CaseIterable
}

extension ConfigSection {
    /// The keys this section takes, from its coding keys.
    static var keyNames: [String] { CodingKeys.allCases.map(\.stringValue) }
}

/// A section checked for unknown keys before it is decoded.
struct Strict<Section: ConfigSection>: Decodable {
    let value: Section

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        let known = Set(Section.keyNames)
        if let unknown = container.allKeys.first(where: { !known.contains($0.stringValue) }) {
            throw UnknownKey(path: decoder.codingPath + [unknown])
        }
        value = try Section(from: decoder)
    }
}

struct AnyKey: CodingKey {
    let stringValue: String
    let intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue; self.intValue = nil }
    init(intValue: Int) { self.stringValue = "\(intValue)"; self.intValue = intValue }
}

struct UnknownKey: Error {
    let path: [any CodingKey]
}

/// Where a value sits in the file, as the error messages name it: `cache.tag_ttl`, `tiers[0].url`.
func keyPath(_ path: [any CodingKey]) -> String {
    var out = ""
    for key in path {
        if let index = key.intValue { out += "[\(index)]" } else { out += out.isEmpty ? key.stringValue : ".\(key.stringValue)" }
    }
    return out
}

/// The config file as written.
struct ConfigFile: ConfigSection {
    var listen: String?
    var adminListen: String?
    var logLevel: String?
    var mode: String?
    var defaultRegistry: String?
    var connectTimeout: String?
    var firstByteTimeout: String?
    var instanceID: String?
    var admin: Strict<AdminSection>?
    var cache: Strict<CacheSection>?
    var limits: Strict<LimitsSection>?
    var breaker: Strict<BreakerSection>?
    var prefetch: Strict<PrefetchSection>?
    var tls: Strict<TLSSection>?
    var auth: Strict<AuthSection>?
    var tiers: [Strict<TierSection>]?
    var prefixes: [String: String]?
    var canonical: [String: String]?
    var credentials: [String: Strict<LoginSection>]?
    var store: Strict<StoreSection>?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case listen, mode, admin, cache, store, limits, breaker, prefetch, tls, auth, tiers, prefixes, canonical, credentials
        case adminListen = "admin_listen", logLevel = "log_level", defaultRegistry = "default_registry"
        case connectTimeout = "connect_timeout", firstByteTimeout = "first_byte_timeout", instanceID = "instance_id"
    }

    /// Every key a file may hold, for the configuration reference and its test: the
    /// sections' coding keys under their names.
    static var allKeyPaths: [String] {
        let sections: [String: [String]] = [
            "admin": AdminSection.keyNames, "cache": CacheSection.keyNames, "limits": LimitsSection.keyNames,
            "breaker": BreakerSection.keyNames, "prefetch": PrefetchSection.keyNames, "tls": TLSSection.keyNames,
            "auth": AuthSection.keyNames,
            "tiers[]": TierSection.keyNames.flatMap { $0 == "credentials" ? LoginSection.keyNames.map { "credentials.\($0)" } : [$0] },
            "credentials.<host>": LoginSection.keyNames,
            "store": StoreSection.keyNames.flatMap { $0 == "s3" ? S3Section.keyNames.map { "s3.\($0)" } : [$0] },
        ]
        var out: [String] = []
        for key in keyNames {
            switch key {
            case "prefixes": out.append("prefixes.<prefix>")
            case "canonical": out.append("canonical.<registry>")
            case "credentials": out += sections["credentials.<host>", default: []].map { "credentials.<host>.\($0)" }
            case "tiers": out.append("tiers"); out += sections["tiers[]", default: []].map { "tiers[].\($0)" }
            default:
                if let section = sections[key] { out += section.map { "\(key).\($0)" } } else { out.append(key) }
            }
        }
        return out
    }
}

struct AdminSection: ConfigSection {
    var tokenFile: String?
    var accessLog: String?
    var ledgerSize: String?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case tokenFile = "token_file", accessLog = "access_log", ledgerSize = "ledger_size"
    }
}

struct CacheSection: ConfigSection {
    var dir: String?
    var tagTTL: String?
    var negativeTTL: String?
    var maxSize: String?
    var maxIdle: String?
    var pins: [String]?
    var evictionInterval: String?
    var scrubInterval: String?
    var scrubRate: String?
    var deletedTags: String?
    var referrersTTL: String?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case dir, pins, deletedTags = "deleted_tags", referrersTTL = "referrers_ttl"
        case tagTTL = "tag_ttl", negativeTTL = "negative_ttl", maxSize = "max_size", maxIdle = "max_idle"
        case evictionInterval = "eviction_interval", scrubInterval = "scrub_interval", scrubRate = "scrub_rate"
    }
}

struct LimitsSection: ConfigSection {
    var headerTimeout: String?
    var idleTimeout: String?
    var maxConnections: String?
    var minUpstreamRate: String?
    var upstreamRateWindow: String?
    var maxManifestSize: String?
    var maxTokenSize: String?
    var rangedFillConnections: String?
    var rangedFillThreshold: String?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case rangedFillConnections = "ranged_fill_connections", rangedFillThreshold = "ranged_fill_threshold"
        case headerTimeout = "header_timeout", idleTimeout = "idle_timeout", maxConnections = "max_connections"
        case minUpstreamRate = "min_upstream_rate", upstreamRateWindow = "upstream_rate_window"
        case maxManifestSize = "max_manifest_size", maxTokenSize = "max_token_size"
    }
}

struct BreakerSection: ConfigSection {
    var failures: String?
    var coolOff: String?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case failures, coolOff = "cool_off"
    }
}

struct PrefetchSection: ConfigSection {
    var images: [String]?
    var platforms: [String]?
    var refresh: String?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case images, platforms, refresh
    }
}

struct TLSSection: ConfigSection {
    var cert: String?
    var key: String?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case cert, key
    }
}

struct AuthSection: ConfigSection {
    var htpasswd: String?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case htpasswd
    }
}

struct TierSection: ConfigSection {
    var name: String?
    var url: String?
    var registries: [String]?
    var connectTimeout: String?
    var firstByteTimeout: String?
    var credentials: Strict<LoginSection>?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, url, registries, credentials
        case connectTimeout = "connect_timeout", firstByteTimeout = "first_byte_timeout"
    }
}

struct LoginSection: ConfigSection {
    var username: String?
    var password: String?
    var passwordFile: String?
    var realms: [String]?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case username, password, passwordFile = "password_file", realms
    }
}

struct StoreSection: ConfigSection {
    var s3: Strict<S3Section>?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case s3
    }
}

struct S3Section: ConfigSection {
    var endpoint: String?
    var bucket: String?
    var region: String?
    var prefix: String?
    var pathStyle: String?
    var accessKeyFile: String?
    var secretKeyFile: String?
    var advertiseURL: String?
    var maxSize: String?
    var maxIdle: String?
    var caFile: String?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case endpoint, bucket, region, prefix
        case caFile = "ca_file"
        case maxSize = "max_size", maxIdle = "max_idle"
        case pathStyle = "path_style", accessKeyFile = "access_key_file", secretKeyFile = "secret_key_file"
        case advertiseURL = "advertise_url"
    }
}
