import Foundation
import StrataCore

/// The decoded file applied to a configuration, a method a section: each value is
/// checked and turned into what the server uses, and a bad one is an error naming its key.
extension StrataConfiguration {
    mutating func apply(_ file: ConfigFile) throws(Error) {
        try applyTopLevel(file)
        if let admin = file.admin?.value { try apply(admin) }
        if let cache = file.cache?.value { try apply(cache) }
        if let limits = file.limits?.value { try apply(limits) }
        if let breaker = file.breaker?.value { try apply(breaker) }
        if let prefetch = file.prefetch?.value { try apply(prefetch) }
        if let tls = file.tls?.value { try apply(tls) }
        if let htpasswd = file.auth?.value.htpasswd { self.htpasswd = htpasswd }
        if let tiers = file.tiers { try applyTiers(tiers.map(\.value)) }
        if let s3 = file.store?.value.s3?.value { try apply(s3) }
        try applyMaps(file)
    }

    private mutating func applyTopLevel(_ file: ConfigFile) throws(Error) {
        if let text = file.listen { listen = try Check.address(text, "listen") }
        if let text = file.adminListen { adminListen = text == "off" ? nil : try Check.address(text, "admin_listen") }
        if let level = file.logLevel {
            guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(level) else {
                throw Error("config: log_level must be one of trace, debug, info, notice, warning, error, critical")
            }
            logLevel = level
        }
        if let mode = file.mode {
            guard ["normal", "cache-only"].contains(mode) else { throw Error("config: mode must be normal or cache-only, not \"\(mode)\"") }
            cacheOnly = mode == "cache-only"
        }
        if let registry = file.defaultRegistry { defaultRegistry = registry }
        if let text = file.connectTimeout { connectTimeout = try Check.duration(text, "connect_timeout") }
        if let text = file.firstByteTimeout { firstByteTimeout = try Check.duration(text, "first_byte_timeout") }
        if let id = file.instanceID {
            guard !id.isEmpty, id.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }) else {
                throw Error("config: instance_id may hold only letters, digits, '-', '_' and '.'")
            }
            instanceID = id
        }
    }

    private mutating func applyMaps(_ file: ConfigFile) throws(Error) {
        for (prefix, registry) in file.prefixes ?? [:] {
            guard !prefix.isEmpty, !prefix.contains("/") else { throw Error("config: prefixes: \"\(prefix)\" must be one path component") }
            prefixes[prefix] = registry
        }
        if let map = file.canonical {
            var checked: [String: String] = [:]
            for (registry, target) in map { checked[registry] = try Check.url(target, "canonical.\(registry)") }
            canonical = checked
        }
        for (host, login) in file.credentials ?? [:] {
            credentials[host] = try Check.login(login.value, "credentials.\(host)")
        }
    }

    private mutating func apply(_ admin: AdminSection) throws(Error) {
        if let path = admin.tokenFile { adminTokenFile = path }
        if let path = admin.accessLog { adminAccessLog = path }
        if let text = admin.ledgerSize { ledgerSize = try Check.whole(text, "admin.ledger_size", 1...10_000_000) }
    }

    private mutating func apply(_ cache: CacheSection) throws(Error) {
        if let dir = cache.dir { cacheDirectory = dir }
        if let text = cache.tagTTL { tagTTL = try Check.duration(text, "cache.tag_ttl") }
        if let text = cache.referrersTTL { referrersTTL = try Check.duration(text, "cache.referrers_ttl") }
        if let text = cache.negativeTTL { negativeTTL = try Check.duration(text, "cache.negative_ttl") }
        if let text = cache.maxSize {
            guard let size = ConfigValues.size(text), size > 0 else {
                throw Error("config: cache.max_size must be a size like 50GiB or 500MB, not \"\(text)\"")
            }
            maxSize = size
        }
        if let text = cache.maxIdle { maxIdle = try Check.duration(text, "cache.max_idle") }
        if let text = cache.evictionInterval { evictionInterval = try Check.duration(text, "cache.eviction_interval") }
        if let list = cache.pins { pins = try Check.images(list, "cache.pins") }
        if let text = cache.scrubInterval { scrubInterval = try Check.duration(text, "cache.scrub_interval") }
        if let text = cache.deletedTags {
            switch text {
            case "remove": keepDeletedTags = false
            case "keep": keepDeletedTags = true
            default: throw Error("config: cache.deleted_tags must be remove or keep, not \"\(text.prefix(64))\"")
            }
        }
        if let text = cache.scrubRate { scrubRate = try Check.size(text, "cache.scrub_rate", minimum: 1) }
    }

    private mutating func apply(_ section: LimitsSection) throws(Error) {
        if let text = section.headerTimeout { limits.headerTimeout = try Check.positive(text, "limits.header_timeout") }
        if let text = section.idleTimeout { limits.idleTimeout = try Check.positive(text, "limits.idle_timeout") }
        if let text = section.maxConnections { limits.maxConnections = try Check.whole(text, "limits.max_connections", 1...1_000_000) }
        if let text = section.minUpstreamRate { limits.minUpstreamRate = try Check.size(text, "limits.min_upstream_rate", minimum: 0) }
        if let text = section.upstreamRateWindow { limits.upstreamRateWindow = try Check.positive(text, "limits.upstream_rate_window") }
        if let text = section.maxManifestSize {
            limits.maxManifestSize = try Check.size(text, "limits.max_manifest_size", minimum: 1024, maximum: 1 << 30)
        }
        if let text = section.rangedFillConnections {
            limits.rangedFillConnections = try Check.whole(text, "limits.ranged_fill_connections", 1...64)
        }
        if let text = section.rangedFillThreshold {
            limits.rangedFillThreshold = try Check.size(text, "limits.ranged_fill_threshold", minimum: 1 << 20)
        }
        if let text = section.maxTokenSize { limits.maxTokenSize = try Check.size(text, "limits.max_token_size", minimum: 1024, maximum: 64 << 20) }
    }

    private mutating func apply(_ breaker: BreakerSection) throws(Error) {
        if let text = breaker.failures {
            guard let n = Int(text), n >= 1 else { throw Error("config: breaker.failures must be a whole number of at least 1") }
            breakerFailures = n
        }
        if let text = breaker.coolOff { breakerCoolOff = try Check.duration(text, "breaker.cool_off") }
    }

    private mutating func apply(_ prefetch: PrefetchSection) throws(Error) {
        if let text = prefetch.refresh { prefetchRefresh = try Check.duration(text, "prefetch.refresh") }
        if let list = prefetch.images { prefetchImages = try Check.images(list, "prefetch.images") }
        if let list = prefetch.platforms { prefetchPlatforms = list }
    }

    private mutating func apply(_ tls: TLSSection) throws(Error) {
        tlsCertificate = tls.cert ?? tlsCertificate
        tlsKey = tls.key ?? tlsKey
        guard (tlsCertificate == nil) == (tlsKey == nil) else { throw Error("config: tls needs both cert and key") }
    }

    private mutating func apply(_ s3: S3Section) throws(Error) {
        guard let endpoint = s3.endpoint, let bucket = s3.bucket else { throw Error("config: store.s3 needs endpoint and bucket") }
        var store = SharedStore(endpoint: try Check.url(endpoint, "store.s3.endpoint"), bucket: bucket)
        // S3's rules for bucket names: 3 to 63 lower-case letters, digits, '-' and '.'.
        guard (3...63).contains(bucket.count), bucket.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "-" || $0 == "." }),
              bucket.first?.isLetter == true || bucket.first?.isNumber == true else {
            throw Error("config: store.s3.bucket must be a bucket name (3-63 lower-case letters, digits, '-', '.'), not \"\(bucket)\"")
        }
        if let region = s3.region { store.region = region }
        if let prefix = s3.prefix {
            guard !prefix.hasPrefix("/"), !prefix.contains("//") else { throw Error("config: store.s3.prefix must not start with / or hold //") }
            store.prefix = prefix
        }
        if let text = s3.pathStyle {
            guard ["true", "false"].contains(text) else { throw Error("config: store.s3.path_style must be true or false") }
            store.pathStyle = text == "true"
        }
        if let text = s3.maxSize { store.maxSize = try Check.size(text, "store.s3.max_size", minimum: 1) }
        if let text = s3.maxIdle { store.maxIdle = try Check.positive(text, "store.s3.max_idle") }
        if let url = s3.advertiseURL { store.advertiseURL = try Check.url(url, "store.s3.advertise_url") }
        if let path = s3.caFile {
            guard store.endpoint.lowercased().hasPrefix("https://") else { throw Error("config: store.s3.ca_file needs an https:// endpoint") }
            guard FileManager.default.isReadableFile(atPath: path) else { throw Error("config: store.s3.ca_file \(path) cannot be read") }
            store.caFile = path
        }
        if let path = s3.accessKeyFile { store.accessKey = try Check.secret(path, "store.s3.access_key_file") }
        if let path = s3.secretKeyFile { store.secretKey = try Check.secret(path, "store.s3.secret_key_file") }
        guard (store.accessKey == nil) == (store.secretKey == nil) else {
            throw Error("config: store.s3 needs both access_key_file and secret_key_file, or neither (then AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
        }
        sharedStore = store
    }

    private mutating func applyTiers(_ sections: [TierSection]) throws(Error) {
        var list: [Tier] = []
        for (i, section) in sections.enumerated() {
            let key = "tiers[\(i)]"
            guard let name = section.name, !name.isEmpty, let url = section.url else { throw Error("config: \(key) needs name and url") }
            var tier = Tier(name: name, url: try Check.url(url, "\(key).url"), registries: section.registries ?? [])
            if let text = section.connectTimeout { tier.connectTimeout = try Check.duration(text, "\(key).connect_timeout") }
            if let text = section.firstByteTimeout { tier.firstByteTimeout = try Check.duration(text, "\(key).first_byte_timeout") }
            if let login = section.credentials?.value {
                let checked = try Check.login(login, "\(key).credentials")
                tier.username = checked.username
                tier.password = checked.password
                tier.realms = checked.realms
            }
            list.append(tier)
        }
        let names = list.map(\.name)
        if Set(names).count != names.count { throw Error("config: tier names must be unique") }
        tiers = list
    }
}

/// The checks of single values, each naming its key when it fails.
private enum Check {
    typealias Error = StrataConfiguration.Error

    static func duration(_ text: String, _ key: String) throws(Error) -> TimeInterval {
        guard let value = ConfigValues.duration(text) else { throw Error("config: \(key) must be a duration like 30s, 10m or 1h, not \"\(text)\"") }
        return value
    }

    static func positive(_ text: String, _ key: String) throws(Error) -> TimeInterval {
        let value = try duration(text, key)
        guard value > 0 else { throw Error("config: \(key) must be longer than 0s") }
        return value
    }

    static func size(_ text: String, _ key: String, minimum: Int64, maximum: Int64 = 1 << 62) throws(Error) -> Int64 {
        guard let size = ConfigValues.size(text), size >= minimum, size <= maximum else {
            throw Error("config: \(key) must be a size like 64MiB from \(minimum) to \(maximum) bytes, not \"\(text)\"")
        }
        return size
    }

    static func whole(_ text: String, _ key: String, _ range: ClosedRange<Int>) throws(Error) -> Int {
        guard let n = Int(text), range.contains(n) else {
            throw Error("config: \(key) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }

    static func address(_ text: String, _ key: String) throws(Error) -> String {
        guard ConfigValues.address(text) != nil else { throw Error("config: \(key) must be host:port, not \"\(text)\"") }
        return text
    }

    static func url(_ text: String, _ key: String) throws(Error) -> String {
        guard let url = URL(string: text), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw Error("config: \(key) must be an http:// or https:// URL, not \"\(text)\"")
        }
        return text
    }

    /// A list of image references, each checked as one.
    static func images(_ list: [String], _ key: String) throws(Error) -> [String] {
        for image in list where ImageReference(parsing: image) == nil {
            throw Error("config: \(key): \"\(image)\" is not an image reference")
        }
        return list
    }

    /// A secret read from a file, without its trailing newline.
    static func secret(_ path: String, _ key: String) throws(Error) -> String {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw Error("config: \(key): cannot read \(path)")
        }
        let secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !secret.isEmpty else { throw Error("config: \(key): \(path) is empty") }
        return secret
    }

    static func login(_ section: LoginSection, _ key: String) throws(Error) -> StrataConfiguration.Login {
        var password = section.password
        if let path = section.passwordFile {
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                throw Error("config: \(key).password_file: cannot read \(path)")
            }
            password = text.trimmingCharacters(in: .newlines)
        }
        guard let username = section.username, let password else { throw Error("config: \(key) needs username and password or password_file") }
        var realms: [String] = []
        for (i, realm) in (section.realms ?? []).enumerated() { realms.append(try Check.url(realm, "\(key).realms[\(i)]")) }
        return StrataConfiguration.Login(username: username, password: password, realms: realms)
    }
}
