import Foundation
import Testing
@testable import StrataConfig

/// The config file as users write it: every section decoded, values checked, and a
/// key that no section declares refused with its full path.
@Suite struct ConfigFileTests {
    static func error(_ yaml: String) -> String? {
        do {
            _ = try StrataConfiguration.parse(yaml: yaml)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func aFullFileIsApplied() throws {
        let config = try StrataConfiguration.parse(yaml: """
            listen: 127.0.0.1:5001
            admin_listen: "off"
            mode: cache-only
            instance_id: edge-1
            cache: { dir: /var/cache/strata, tag_ttl: 5m, max_size: 2GiB, pins: [library/alpine:3.20], scrub_rate: 8MiB }
            limits: { max_connections: 100, header_timeout: 5s }
            breaker: { failures: 5, cool_off: 1m }
            tiers:
              - name: central
                url: http://10.0.0.2:5000
                registries: [docker.io]
                credentials: { username: u, password: p }
            canonical: { docker.io: "http://127.0.0.1:9" }
            prefixes: { ghcr: ghcr.io }
            credentials: { "quay.io": { username: a, password: b } }
            """)
        #expect(config.listen == "127.0.0.1:5001" && config.adminListen == nil && config.cacheOnly)
        #expect(config.cacheDirectory == "/var/cache/strata" && config.tagTTL == 300 && config.maxSize == 2 << 30)
        #expect(config.pins == ["library/alpine:3.20"] && config.scrubRate == 8 << 20)
        #expect(config.limits.maxConnections == 100 && config.limits.headerTimeout == 5)
        #expect(config.breakerFailures == 5 && config.breakerCoolOff == 60)
        #expect(config.tiers == [StrataConfiguration.Tier(name: "central", url: "http://10.0.0.2:5000", username: "u", password: "p", registries: ["docker.io"])])
        #expect(config.canonical == ["docker.io": "http://127.0.0.1:9"] && config.prefixes == ["ghcr": "ghcr.io"])
        #expect(config.credentials["quay.io"] == StrataConfiguration.Login(username: "a", password: "b"))
    }

    @Test func unknownKeysAreNamedWithTheirPath() {
        #expect(Self.error("cache: { tag_tll: 5m }") == #"config: unknown key "cache.tag_tll""#)
        #expect(Self.error("no_such_key: 1") == #"config: unknown key "no_such_key""#)
        #expect(Self.error("tiers: [{ name: a, url: http://x, credentials: { username: u, pasword: p } }]")
                == #"config: unknown key "tiers[0].credentials.pasword""#)
        #expect(Self.error("credentials: { h: { user: u } }") == #"config: unknown key "credentials.h.user""#)
    }

    @Test func badValuesNameTheirKey() {
        #expect(Self.error("cache: { tag_ttl: soon }") == #"config: cache.tag_ttl must be a duration like 30s, 10m or 1h, not "soon""#)
        #expect(Self.error("cache: [1, 2]") == "config: cache must be a mapping")
        #expect(Self.error("listen: { host: a }") == "config: listen must be a string")
        #expect(Self.error("tiers: { name: a }") == "config: tiers must be a list")
        #expect(Self.error("cache: { pins: nope }") == "config: cache.pins must be a list")
        #expect(Self.error("tiers: [{ name: a }]") == "config: tiers[0] needs name and url")
        #expect(Self.error("limits: { max_connections: 0 }") == "config: limits.max_connections must be a whole number from 1 to 1000000")
        #expect(Self.error("tls: { cert: a.pem }") == "config: tls needs both cert and key")
        #expect((Self.error("listen: [") ?? "").hasPrefix("config is not valid YAML"))
    }

    @Test func theSharedStoreSection() throws {
        let keyFile = NSTemporaryDirectory() + "s3-key-\(UUID().uuidString)"
        let secretFile = keyFile + "-secret"
        try "AKID\n".write(toFile: keyFile, atomically: true, encoding: .utf8)
        try "s3cret\n".write(toFile: secretFile, atomically: true, encoding: .utf8)
        let config = try StrataConfiguration.parse(yaml: """
            store: { s3: { endpoint: "http://10.0.0.5:7480", bucket: strata-central, prefix: central/, path_style: "false",
                           access_key_file: \(keyFile), secret_key_file: \(secretFile) } }
            """)
        var expected = StrataConfiguration.SharedStore(endpoint: "http://10.0.0.5:7480", bucket: "strata-central")
        expected.prefix = "central/"
        expected.pathStyle = false
        expected.accessKey = "AKID"
        expected.secretKey = "s3cret"
        #expect(config.sharedStore == expected)
        let bounded = try StrataConfiguration.parse(yaml: "store: { s3: { endpoint: http://x, bucket: b1b, max_size: 2TiB, max_idle: 7d } }")
        #expect(bounded.sharedStore?.maxSize == 2 << 40 && bounded.sharedStore?.maxIdle == 7 * 86400)
        #expect(Self.error("store: { s3: { endpoint: http://x, bucket: b1b, max_size: lots } }")?.hasPrefix("config: store.s3.max_size must be") == true)
        #expect(Self.error("store: { s3: { endpoint: http://x } }") == "config: store.s3 needs endpoint and bucket")
        #expect(Self.error("store: { s3: { endpoint: ftp://x, bucket: b1b } }")?.hasPrefix("config: store.s3.endpoint must be") == true)
        #expect(Self.error("store: { s3: { endpoint: http://x, bucket: Bad_Name } }")?.hasPrefix("config: store.s3.bucket must be") == true)
        #expect(Self.error("store: { s3: { endpoint: http://x, bucket: b1b, access_key_file: \(keyFile) } }")?.hasPrefix("config: store.s3 needs both") == true)
        #expect(Self.error("store: { s3: { endpoint: http://x, bucket: b1b, acess_key_file: k } }") == #"config: unknown key "store.s3.acess_key_file""#)
    }

    @Test func anEmptyFileIsTheDefaults() throws {
        #expect(try StrataConfiguration.parse(yaml: "") == StrataConfiguration())
        #expect(try StrataConfiguration.parse(yaml: "# only a comment\n") == StrataConfiguration())
    }

    /// The reference's key list comes from the sections' coding keys.
    @Test func knownKeysCoverEverySection() {
        let keys = Set(StrataConfiguration.knownKeys)
        for key in ["listen", "admin.token_file", "cache.scrub_rate", "limits.max_token_size", "tiers", "tiers[].url",
                    "tiers[].credentials.password_file", "credentials.<host>.username", "canonical.<registry>", "prefixes.<prefix>"] {
            #expect(keys.contains(key), "\(key)")
        }
        #expect(keys.count == StrataConfiguration.knownKeys.count)
    }
}
