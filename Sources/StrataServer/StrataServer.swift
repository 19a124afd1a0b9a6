import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTLS
import HummingbirdCore
import NIOSSL
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import UnixSignals
import StrataAdminAPI
import StrataCore
import StrataMirror
import StrataRegistryAPI
import StrataStore
import StrataUpstream

/// Strata wired together: store, index, tier chains, engine and the registry port.
public final class StrataServer: Sendable {
    public let configuration: StrataConfiguration
    public let engine: MirrorEngine
    /// This instance's id, as sent in `Via: 1.1 strata-<id>`.
    public let instanceID: String
    /// Which tier served each request.
    public let ledger: Ledger
    /// Keeps the cache within `max_size` and `max_idle`.
    public let janitor: CacheJanitor
    /// Re-hashes stored blobs in the background (`cache.scrub_interval`).
    public let scrubber: CacheScrubber
    /// The registry port's open client connections.
    public let connections: ConnectionCounter
    private let eviction: EvictionService

    /// Returns once no eviction is running or asked for (for tests and tools).
    public func evictionIdle() async {
        await eviction.waitUntilIdle()
    }
    private let clients: [HTTPClient]
    private let services: [any Service]
    private let logger: Logger

    /// A startup failure, with a one-line reason for the command line.
    public struct StartupError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Builds everything and checks the cache directory. Does not listen yet.
    public init(
        configuration: StrataConfiguration, logger: Logger,
        now: @escaping @Sendable () -> Date = Date.init,
        onListening: @escaping @Sendable (Int) -> Void = { _ in },
        onAdminListening: @escaping @Sendable (Int) -> Void = { _ in },
        onPrefetchRound: @escaping @Sendable (Prefetcher.Summary) -> Void = { _ in }
    ) throws(StartupError) {
        guard let address = ConfigValues.address(configuration.listen) else {
            throw StartupError(description: "invalid listen address \(configuration.listen)")
        }
        var adminAddress: (host: String, port: Int)? = nil
        var adminToken: String? = nil
        if let adminListen = configuration.adminListen {
            guard let parsed = ConfigValues.address(adminListen) else {
                throw StartupError(description: "invalid admin_listen address \(adminListen)")
            }
            adminAddress = parsed
            if let file = configuration.adminTokenFile {
                guard let data = FileManager.default.contents(atPath: file),
                      let token = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines), !token.isEmpty else {
                    throw StartupError(description: "cannot read a token from admin.token_file \(file)")
                }
                adminToken = token
            } else if !["127.0.0.1", "::1", "localhost"].contains(parsed.host) {
                throw StartupError(description: "admin_listen \(adminListen) is not loopback: set admin.token_file to protect it")
            }
        }
        let store = BlobStore(root: configuration.cacheDirectory)
        do {
            try store.prepare()
        } catch {
            throw StartupError(description: "cache dir \(configuration.cacheDirectory) is not usable: \(error)")
        }
        let index: CacheIndex
        do {
            index = try CacheIndex(path: store.layout.indexPath)
        } catch {
            throw StartupError(description: "cannot open the index \(store.layout.indexPath): \(error)")
        }
        var clients: [HTTPClient] = []
        func client(connectTimeout: TimeInterval, firstByteTimeout: TimeInterval) -> HTTPClient {
            var config = HTTPClient.Configuration(
                redirectConfiguration: .disallow,
                timeout: .init(connect: .milliseconds(Int64(connectTimeout * 1000)), read: .milliseconds(Int64(firstByteTimeout * 1000))))
            config.decompression = .disabled
            // A refused connection fails the attempt at once; the tier walk moves on
            // rather than retrying until the connect timeout.
            config.connectionPool.retryConnectionEstablishment = false
            let http = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: config)
            clients.append(http)
            return http
        }
        func login(for url: String) -> Credentials? {
            guard let components = URLComponents(string: url), let host = components.host else { return nil }
            let hostPort = components.port.map { "\(host):\($0)" } ?? host
            return (configuration.credentials[hostPort] ?? configuration.credentials[host]).map {
                Credentials(username: $0.username, password: $0.password)
            }
        }
        let instanceID = configuration.instanceID ?? String(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12))
        let breaker = CircuitBreaker(failureThreshold: configuration.breakerFailures, coolOff: configuration.breakerCoolOff)
        // One health record per tier, shared by every registry the tier serves.
        var health: [String: TierHealth] = [:]
        func tierHealth(_ key: String) -> TierHealth {
            if let existing = health[key] { return existing }
            let created = TierHealth(breaker: breaker, now: now)
            health[key] = created
            return created
        }
        let limitsConfig = configuration.limits
        let minimumRate = limitsConfig.minUpstreamRate > 0
            ? StreamedReply.MinimumRate(bytesPerSecond: limitsConfig.minUpstreamRate,
                                        window: .milliseconds(Int64(limitsConfig.upstreamRateWindow * 1000)))
            : nil
        var chains: [String: TierChain] = [:]
        let registries = Set(configuration.canonical.keys).union(configuration.tiers.flatMap(\.registries))
        let mirrorClients = configuration.tiers.map { tier in
            (tier, client(connectTimeout: tier.connectTimeout, firstByteTimeout: tier.firstByteTimeout))
        }
        let canonicalClient = client(connectTimeout: configuration.connectTimeout, firstByteTimeout: configuration.firstByteTimeout)
        for registry in registries.sorted() {
            var tiers: [UpstreamTier] = []
            for (tier, http) in mirrorClients where tier.registries.isEmpty || tier.registries.contains(registry) {
                let credentials = tier.username.map { Credentials(username: $0, password: tier.password ?? "") } ?? login(for: tier.url)
                let health = tierHealth("mirror/\(tier.name)")
                tiers.append(UpstreamTier(name: .mirror(tier.name), client: RegistryClient(
                    baseURL: tier.url, credentials: credentials, namespace: registry, http: http, instanceID: instanceID,
                    logger: logger, now: now, rateLimitObserver: { health.rateLimit(remaining: $0) },
                    maxManifestSize: Int(limitsConfig.maxManifestSize), maxTokenSize: Int(limitsConfig.maxTokenSize),
                    minimumRate: minimumRate), health: health))
            }
            if let url = configuration.canonical[registry] {
                let health = tierHealth("canonical/\(registry)")
                tiers.append(UpstreamTier(name: .canonical, client: RegistryClient(
                    baseURL: url, credentials: login(for: url), http: canonicalClient, instanceID: instanceID,
                    logger: logger, now: now, rateLimitObserver: { health.rateLimit(remaining: $0) },
                    maxManifestSize: Int(limitsConfig.maxManifestSize), maxTokenSize: Int(limitsConfig.maxTokenSize),
                    minimumRate: minimumRate), health: health))
            }
            chains[registry] = TierChain(tiers)
        }
        let engine = MirrorEngine(
            store: store, index: index,
            configuration: MirrorConfiguration(tagTTL: configuration.tagTTL, cacheOnly: configuration.cacheOnly,
                                               defaultRegistry: configuration.defaultRegistry, chains: chains,
                                               negativeTTL: configuration.negativeTTL),
            logger: logger, now: now)
        // Plain-text registry connections send raw cache hits with sendfile; TLS cannot.
        let limits = ConnectionLimits(
            headerTimeout: .milliseconds(Int64(configuration.limits.headerTimeout * 1000)),
            idleTimeout: .milliseconds(Int64(configuration.limits.idleTimeout * 1000)),
            maxConnections: configuration.limits.maxConnections)
        let counter = ConnectionCounter(logger: logger)
        self.connections = counter
        var server: HTTPServerBuilder = ZeroCopyHTTP1Channel.builder(limits: limits, counter: counter)
        var adminServer: HTTPServerBuilder = .http1()
        var fileRegions = true
        if let certificate = configuration.tlsCertificate, let key = configuration.tlsKey {
            do {
                let chain = try NIOSSLCertificate.fromPEMFile(certificate).map { NIOSSLCertificateSource.certificate($0) }
                let tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
                adminServer = try .tls(.http1(), tlsConfiguration: tls)
                server = try .tls(.http1(configuration: .init(additionalChannelHandlers: [ConnectionGuard.make(limits: limits, counter: counter)])),
                                  tlsConfiguration: tls)
                fileRegions = false
            } catch {
                throw StartupError(description: "cannot use tls.cert \(certificate) and tls.key \(key): \(error)")
            }
        }
        var authenticator: ClientAuthenticator? = nil
        if let htpasswd = configuration.htpasswd {
            do {
                authenticator = try ClientAuthenticator(htpasswdPath: htpasswd, now: now)
            } catch {
                throw StartupError(description: error.description)
            }
        }
        let ledger = Ledger(capacity: configuration.ledgerSize, now: now)
        let metrics = StrataMetrics(engine: engine, ledger: ledger)
        self.configuration = configuration
        self.engine = engine
        self.instanceID = instanceID
        self.ledger = ledger
        self.clients = clients
        self.logger = logger
        var services: [any Service] = [
            Application(
                responder: RegistryResponder(engine: engine, logger: logger, instanceID: instanceID, prefixes: configuration.prefixes,
                                             ledger: ledger, authenticator: authenticator, fileRegions: fileRegions, now: now),
                server: server,
                configuration: .init(address: .hostname(address.host, port: address.port), serverName: nil),
                onServerRunning: { channel in onListening(channel.localAddress?.port ?? address.port) },
                logger: logger),
            AccessFlushService(recorder: engine.access, interval: .seconds(5), logger: logger),
        ]
        let janitor = CacheJanitor(
            engine: engine, limits: .init(maxSize: configuration.maxSize, maxIdle: configuration.maxIdle),
            pins: configuration.pins, logger: logger, now: now)
        self.janitor = janitor
        let eviction: EvictionService
        do {
            eviction = try EvictionService(janitor: janitor, engine: engine,
                                           interval: .milliseconds(Int64(configuration.evictionInterval * 1000)), logger: logger)
        } catch {
            throw StartupError(description: "cannot read the index: \(error)")
        }
        services.append(eviction)
        self.eviction = eviction
        let scrubber = CacheScrubber(engine: engine, bytesPerSecond: configuration.scrubRate, logger: logger)
        self.scrubber = scrubber
        if configuration.scrubInterval > 0 {
            services.append(ScrubService(scrubber: scrubber, interval: .milliseconds(Int64(configuration.scrubInterval * 1000)), logger: logger))
        }
        if !configuration.prefetchImages.isEmpty {
            let images = configuration.prefetchImages.compactMap { ImageReference(parsing: $0, defaultRegistry: configuration.defaultRegistry) }
            services.append(PrefetchService(
                prefetcher: Prefetcher(engine: engine), images: images, platforms: configuration.prefetchPlatforms,
                refresh: .milliseconds(Int64(configuration.prefetchRefresh * 1000)), logger: logger, onRound: onPrefetchRound))
        }
        if let adminAddress {
            let routes = AdminRoutes(engine: engine, ledger: ledger, metrics: metrics, instanceID: instanceID)
            services.append(Application(
                router: routes.router(token: adminToken, listenHost: adminAddress.host),
                server: adminServer,
                configuration: .init(address: .hostname(adminAddress.host, port: adminAddress.port), serverName: nil),
                onServerRunning: { channel in onAdminListening(channel.localAddress?.port ?? adminAddress.port) },
                logger: logger))
        }
        if let path = configuration.adminAccessLog {
            do {
                services.append(try AccessLogService.make(path: path, ledger: ledger, logger: logger))
            } catch let error as StartupError {
                throw error
            } catch {
                throw StartupError(description: "admin.access_log \(path): \(error)")
            }
        }
        self.services = services
    }

    /// Serves until the task is cancelled or a shutdown signal arrives.
    public func run(gracefulShutdownSignals: [UnixSignal] = []) async throws(StartupError) {
        for address in [configuration.listen] + (configuration.adminListen.map { [$0] } ?? []) {
            if let parsed = ConfigValues.address(address), let problem = PortCheck.problem(host: parsed.host, port: parsed.port) {
                for client in clients { try? await client.shutdown() }
                throw StartupError(description: "cannot listen on \(address): \(problem)")
            }
        }
        // A crash may have left the index and the files disagreeing: fix that first.
        do {
            let report = try await Reconciler(store: engine.store, index: engine.index).run()
            if report != Reconciler.Report() { logger.notice("cache reconciled", metadata: ["report": "\(report)"]) }
        } catch {
            for client in clients { try? await client.shutdown() }
            throw StartupError(description: "cannot reconcile the cache index with \(configuration.cacheDirectory): \(error)")
        }
        let group = ServiceGroup(configuration: .init(
            services: services, gracefulShutdownSignals: gracefulShutdownSignals, logger: logger))
        var failure: StartupError? = nil
        do {
            try await group.run()
        } catch {
            failure = StartupError(description: Self.explain(error, listen: configuration.listen))
        }
        for client in clients { try? await client.shutdown() }
        if let failure { throw failure }
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully.
    public func runUntilSignalled() async throws(StartupError) {
        try await run(gracefulShutdownSignals: [.sigterm, .sigint])
    }

    static func explain(_ error: any Error, listen: String) -> String {
        let text = "\(error)"
        if text.contains("Address already in use") { return "cannot listen on \(listen): address already in use" }
        if text.contains("Permission denied") && text.contains("bind") { return "cannot listen on \(listen): permission denied" }
        if text.contains("bind") { return "cannot listen on \(listen): \(text)" }
        return text
    }
}
