import AsyncHTTPClient
import Foundation
import Logging
import NIOPosix
import StrataCore
import StrataUpstream

/// The tier chain of every registry, and the HTTP clients they share: one per mirror
/// tier, one for all the canonical registries. Each tier has one health record (and so
/// one breaker) whatever the number of registries it serves.
struct UpstreamWiring {
    let chains: [String: TierChain]
    let clients: [HTTPClient]

    init(configuration: StrataConfiguration, instanceID: String, logger: Logger, now: @escaping @Sendable () -> Date) {
        let settings = ClientSettings(configuration: configuration, instanceID: instanceID, logger: logger, now: now)
        let mirrorClients = configuration.tiers.map { ($0, Self.client(connectTimeout: $0.connectTimeout, firstByteTimeout: $0.firstByteTimeout)) }
        let canonicalClient = Self.client(connectTimeout: configuration.connectTimeout, firstByteTimeout: configuration.firstByteTimeout)
        let breaker = CircuitBreaker(failureThreshold: configuration.breakerFailures, coolOff: configuration.breakerCoolOff)
        var health: [String: TierHealth] = [:]
        func tierHealth(_ key: String, registries: String) -> TierHealth {
            if let existing = health[key] { return existing }
            let created = TierHealth(breaker: breaker, now: now,
                                     observer: Self.breakerLog(tier: key.hasPrefix("canonical/") ? "canonical" : key, registries: registries, logger: logger))
            health[key] = created
            return created
        }
        var chains: [String: TierChain] = [:]
        let registries = Set(configuration.canonical.keys).union(configuration.tiers.flatMap(\.registries))
        for registry in registries.sorted() {
            var tiers: [UpstreamTier] = []
            for (tier, http) in mirrorClients where tier.registries.isEmpty || tier.registries.contains(registry) {
                let credentials = tier.username.map { Credentials(username: $0, password: tier.password ?? "", realms: tier.realms) }
                    ?? Self.login(for: tier.url, in: configuration)
                let health = tierHealth("mirror/\(tier.name)", registries: tier.registries.isEmpty ? "all" : tier.registries.joined(separator: ","))
                tiers.append(UpstreamTier(name: .mirror(tier.name), client: settings.client(
                    tier.url, credentials: credentials, namespace: registry, http: http, health: health), health: health))
            }
            if let url = configuration.canonical[registry] {
                let health = tierHealth("canonical/\(registry)", registries: registry)
                tiers.append(UpstreamTier(name: .canonical, client: settings.client(
                    url, credentials: Self.login(for: url, in: configuration), namespace: nil, http: canonicalClient, health: health), health: health))
            }
            chains[registry] = TierChain(tiers)
        }
        self.chains = chains
        self.clients = mirrorClients.map(\.1) + [canonicalClient]
    }

    /// Writes a tier's breaker transitions to the server log: once when it opens (why,
    /// for how long), once when it closes, and a line at most once a minute while it
    /// stays open.
    static func breakerLog(tier: String, registries: String, logger: Logger) -> @Sendable (TierHealth.BreakerEvent) -> Void {
        { event in
            var metadata: Logger.Metadata = ["tier": "\(tier)", "registry": "\(registries)"]
            switch event {
            case .opened(let lastError, let coolOff):
                metadata["why"] = "\(lastError ?? "repeated failures")"
                metadata["skipped_for_seconds"] = "\(Int(coolOff.rounded(.up)))"
                logger.warning("tier down: circuit breaker opened, the tier is skipped until a probe answers", metadata: metadata)
            case .closed(let downFor):
                metadata["down_seconds"] = "\(Int(downFor.rounded()))"
                logger.notice("tier back: circuit breaker closed, the tier answers again", metadata: metadata)
            case .stillOpen(let downFor, let lastError, let skipped):
                metadata["down_seconds"] = "\(Int(downFor.rounded()))"
                metadata["why"] = "\(lastError ?? "repeated failures")"
                metadata["skipped_requests"] = "\(skipped)"
                logger.warning("tier still down: circuit breaker open", metadata: metadata)
            }
        }
    }

    /// Shuts the clients down when the server is not started after all.
    func shutdown() {
        for client in clients { try? client.syncShutdown() }
    }

    /// What every registry client is made with, from the configuration.
    private struct ClientSettings {
        let instanceID: String
        let logger: Logger
        let now: @Sendable () -> Date
        let limits: StrataConfiguration.Limits
        let minimumRate: StreamedReply.MinimumRate?

        init(configuration: StrataConfiguration, instanceID: String, logger: Logger, now: @escaping @Sendable () -> Date) {
            self.instanceID = instanceID
            self.logger = logger
            self.now = now
            limits = configuration.limits
            minimumRate = UpstreamWiring.minimumRate(limits)
        }

        func client(_ url: String, credentials: Credentials?, namespace: String?, http: HTTPClient, health: TierHealth) -> RegistryClient {
            RegistryClient(baseURL: url, credentials: credentials, namespace: namespace, http: http, instanceID: instanceID,
                           logger: logger, now: now, rateLimitObserver: { health.rateLimit(limit: $0, remaining: $1) },
                           maxManifestSize: Int(limits.maxManifestSize), maxTokenSize: Int(limits.maxTokenSize),
                           minimumRate: minimumRate)
        }
    }

    /// The rate watchdog every upstream body gets (`limits.min_upstream_rate`); nil when it is off.
    static func minimumRate(_ limits: StrataConfiguration.Limits) -> StreamedReply.MinimumRate? {
        limits.minUpstreamRate > 0
            ? StreamedReply.MinimumRate(bytesPerSecond: limits.minUpstreamRate, window: .milliseconds(Int64(limits.upstreamRateWindow * 1000)))
            : nil
    }

    /// An HTTP client for upstream tiers: no redirects followed by itself (the redirect
    /// policy does), bodies as sent, a refused connection failing at once.
    static func client(connectTimeout: TimeInterval, firstByteTimeout: TimeInterval) -> HTTPClient {
        var config = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .milliseconds(Int64(connectTimeout * 1000)), read: .milliseconds(Int64(firstByteTimeout * 1000))))
        config.decompression = .disabled
        // A refused connection fails the attempt at once; the tier walk moves on rather
        // than retrying until the connect timeout.
        config.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: config)
    }

    /// The configured login for an upstream URL's `host:port`, else its host.
    static func login(for url: String, in configuration: StrataConfiguration) -> Credentials? {
        guard let components = URLComponents(string: url), let host = components.host else { return nil }
        let hostPort = components.port.map { "\(host):\($0)" } ?? host
        return (configuration.credentials[hostPort] ?? configuration.credentials[host]).map {
            Credentials(username: $0.username, password: $0.password, realms: $0.realms)
        }
    }
}
