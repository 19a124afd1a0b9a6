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
import StrataObjectStore
import StrataRegistryAPI
import StrataStore
import StrataUpstream

/// Strata wired together: store, index, tier chains, engine and the registry port.
public final class StrataServer: Sendable {
    public let configuration: StrataConfiguration
    public let engine: MirrorEngine
    /// The local disk the engine keeps its content on.
    public let disk: DiskContentStore
    /// The engine over the shared object store (`store.s3`), when there is one.
    public let sharedEngine: MirrorEngine?
    private let sharedStore: S3ContentStore?
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

    /// Returns once the index and the blob files were reconciled after start-up (for tests and tools).
    public func reconciled() async {
        await reconciliation.wait()
    }
    private let reconciliation = ReconcileService.Done()
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
        let counter = ConnectionCounter(logger: logger)
        let listeners = try ListenerWiring(configuration: configuration, counter: counter, now: now)
        let disk = try Self.openCache(configuration, logger: logger, now: now)
        let instanceID = configuration.instanceID ?? String(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12))
        let upstreams = UpstreamWiring(configuration: configuration, instanceID: instanceID, logger: logger, now: now)
        var shared: SharedStoreWiring? = nil
        if let settings = configuration.sharedStore {
            do {
                shared = try SharedStoreWiring(settings, configuration: configuration, upstream: upstreams.chains, disk: disk,
                                               instanceID: instanceID, logger: logger, now: now)
            } catch {
                upstreams.shutdown()
                throw error
            }
        }
        let clients = upstreams.clients + (shared.map { [$0.http, $0.peerHTTP] } ?? [])
        let engine = MirrorEngine(
            local: shared?.local ?? disk,
            configuration: MirrorConfiguration(tagTTL: configuration.tagTTL, cacheOnly: configuration.cacheOnly,
                                               defaultRegistry: configuration.defaultRegistry, chains: shared?.chains ?? upstreams.chains,
                                               negativeTTL: configuration.negativeTTL, keepDeletedTags: configuration.keepDeletedTags,
                                               referrersTTL: configuration.referrersTTL,
                                               rangedFill: RangedFillSettings(threshold: configuration.limits.rangedFillThreshold,
                                                                              connections: configuration.limits.rangedFillConnections)),
            logger: logger, now: now)
        let ledger = Ledger(capacity: configuration.ledgerSize, now: now)
        let janitor = CacheJanitor(
            engine: engine, disk: disk, limits: .init(maxSize: configuration.maxSize, maxIdle: configuration.maxIdle),
            pins: configuration.pins, logger: logger, now: now)
        let eviction: EvictionService
        do {
            eviction = try EvictionService(janitor: janitor, engine: engine, disk: disk,
                                           interval: .milliseconds(Int64(configuration.evictionInterval * 1000)), logger: logger)
        } catch {
            for client in clients { try? client.syncShutdown() }
            throw StartupError(description: "cannot read the index: \(error)")
        }
        self.configuration = configuration
        self.engine = engine
        self.disk = disk
        self.instanceID = instanceID
        self.ledger = ledger
        self.clients = clients
        self.sharedEngine = shared?.engine
        self.sharedStore = shared?.store
        self.logger = logger
        self.connections = counter
        self.janitor = janitor
        self.eviction = eviction
        self.scrubber = CacheScrubber(disk: disk, bytesPerSecond: configuration.scrubRate, logger: logger)
        do {
            // The shared store's fills end after this replica's, which read from them.
            let sharedServices: [any Service] = shared.map { shared in
                [FillService(work: shared.engine.background),
                 SharedJanitorService(janitor: shared.janitor, interval: .milliseconds(Int64(configuration.evictionInterval * 1000)),
                                      logger: logger, now: now),
                 LeaseRenewalService(store: shared.store, leaseSeconds: shared.peers.leaseSeconds, isFilling: engine.isFilling, now: now)]
            } ?? []
            self.services = sharedServices + (try Self.services(
                configuration, listeners: listeners, engine: engine, disk: disk, objectStore: shared?.store.client, ledger: ledger,
                instanceID: instanceID, eviction: eviction, reconciled: reconciliation,
                scrubber: scrubber, logger: logger, now: now,
                onListening: Self.advertising(shared?.peers, configuration, then: onListening),
                onAdminListening: onAdminListening, onPrefetchRound: onPrefetchRound))
        } catch {
            for client in clients { try? client.syncShutdown() }
            throw error
        }
    }

    /// Once the registry port listens, tells the shared store's fill leases where the
    /// other replicas reach this one: `store.s3.advertise_url`, else `listen` when it
    /// names a specific address (none for `0.0.0.0`: no leases then).
    private static func advertising(
        _ peers: PeerFillSource?, _ configuration: StrataConfiguration, then next: @escaping @Sendable (Int) -> Void
    ) -> @Sendable (Int) -> Void {
        guard let peers else { return next }
        let configured = configuration.sharedStore?.advertiseURL
        let host = ConfigValues.address(configuration.listen)?.host ?? ""
        let scheme = configuration.tlsCertificate == nil ? "http" : "https"
        return { port in
            if let configured {
                peers.advertise(configured)
            } else if !["", "0.0.0.0", "::", "[::]"].contains(host) {
                peers.advertise("\(scheme)://\(host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host):\(port)")
            }
            next(port)
        }
    }

    /// The cache directory, prepared, and its index.
    private static func openCache(
        _ configuration: StrataConfiguration, logger: Logger, now: @escaping @Sendable () -> Date
    ) throws(StartupError) -> DiskContentStore {
        let store = BlobStore(root: configuration.cacheDirectory)
        do {
            try store.prepare()
        } catch {
            throw StartupError(description: "cache dir \(configuration.cacheDirectory) is not usable: \(error)")
        }
        do {
            return DiskContentStore(blobs: store, index: try CacheIndex(path: store.layout.indexPath), logger: logger, now: now)
        } catch {
            throw StartupError(description: "cannot open the index \(store.layout.indexPath): \(error)")
        }
    }

    /// Everything that runs in the service group: the two ports and the background loops.
    private static func services(
        _ configuration: StrataConfiguration, listeners: ListenerWiring, engine: MirrorEngine, disk: DiskContentStore, objectStore: S3Client?,
        ledger: Ledger, instanceID: String,
        eviction: EvictionService, reconciled: ReconcileService.Done, scrubber: CacheScrubber, logger: Logger,
        now: @escaping @Sendable () -> Date, onListening: @escaping @Sendable (Int) -> Void, onAdminListening: @escaping @Sendable (Int) -> Void,
        onPrefetchRound: @escaping @Sendable (Prefetcher.Summary) -> Void
    ) throws(StartupError) -> [any Service] {
        let address = listeners.registryAddress
        // Hummingbird's own "Server started" lines repeat the start-up summary: at notice and above only.
        var serverLogger = logger
        serverLogger.logLevel = max(logger.logLevel, .notice)
        let responder = RegistryResponder(engine: engine, logger: logger, instanceID: instanceID, prefixes: configuration.prefixes,
                                          ledger: ledger, authenticator: listeners.authenticator,
                                          peers: objectStore.map { PeerToken(secret: $0.configuration.secretKey) },
                                          fileRegions: listeners.fileRegions, now: now)
        var services: [any Service] = [
            FillService(work: engine.background),
            Application(
                responder: responder,
                server: try listeners.registryServer(responder),
                configuration: .init(address: .hostname(address.host, port: address.port), serverName: nil),
                onServerRunning: { channel in onListening(channel.localAddress?.port ?? address.port) },
                logger: serverLogger),
            AccessFlushService(recorder: disk.access, interval: .seconds(5), logger: logger),
            ReconcileService(reconciler: Reconciler(store: disk.blobs, index: disk.index), done: reconciled, logger: logger),
            eviction,
        ]
        if configuration.scrubInterval > 0 {
            services.append(ScrubService(scrubber: scrubber, interval: .milliseconds(Int64(configuration.scrubInterval * 1000)), logger: logger))
        }
        if !configuration.prefetchImages.isEmpty {
            let images = configuration.prefetchImages.compactMap { ImageReference(parsing: $0, defaultRegistry: configuration.defaultRegistry) }
            services.append(PrefetchService(
                prefetcher: Prefetcher(engine: engine, ledger: ledger, now: now, settle: { [eviction] in await eviction.waitUntilIdle() }), images: images, platforms: configuration.prefetchPlatforms,
                refresh: .milliseconds(Int64(configuration.prefetchRefresh * 1000)), logger: logger, onRound: onPrefetchRound))
        }
        if let adminAddress = listeners.adminAddress {
            let metrics = StrataMetrics(engine: engine, inventory: disk, ledger: ledger, maxCacheBytes: configuration.maxSize)
            objectStore?.observe { metrics.recordObjectStore(method: $0.method, outcome: $0.outcome, seconds: $0.seconds, sent: $0.sent, received: $0.received) }
            let routes = AdminRoutes(engine: engine, inventory: disk, ledger: ledger, metrics: metrics, instanceID: instanceID,
                                     maxCacheBytes: configuration.maxSize, settle: { [eviction] in await eviction.waitUntilIdle() })
            services.append(Application(
                router: routes.router(token: listeners.adminToken, listenHost: adminAddress.host, secure: listeners.adminIsTLS, logger: logger),
                server: listeners.adminServer,
                configuration: .init(address: .hostname(adminAddress.host, port: adminAddress.port), serverName: nil),
                onServerRunning: { channel in onAdminListening(channel.localAddress?.port ?? adminAddress.port) },
                logger: serverLogger))
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
        return services
    }

    /// Serves until the task is cancelled or a shutdown signal arrives.
    public func run(gracefulShutdownSignals: [UnixSignal] = []) async throws(StartupError) {
        do {
            try await prepareToServe()
        } catch {
            await HTTPClientService.shutdown(clients)
            throw error
        }
        // The upstream clients first: the group shuts services down in reverse, so they
        // go last, after the fills that use them.
        var groupConfiguration = ServiceGroupConfiguration(
            services: [HTTPClientService(clients: clients)] + services, gracefulShutdownSignals: gracefulShutdownSignals, logger: logger)
        // Fills in flight get this long to finish after the ports closed; then they are cancelled.
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(30)
        do {
            try await ServiceGroup(configuration: groupConfiguration).run()
        } catch {
            throw StartupError(description: Self.explain(error, listen: configuration.listen))
        }
    }

    /// What must hold before the ports open: the addresses are free, and blobs a crash
    /// may have torn are verified.
    private func prepareToServe() async throws(StartupError) {
        for address in [configuration.listen] + (configuration.adminListen.map { [$0] } ?? []) {
            if let parsed = ConfigValues.address(address), let problem = PortCheck.problem(host: parsed.host, port: parsed.port) {
                throw StartupError(description: "cannot listen on \(address): \(problem)")
            }
        }
        if let shared = sharedStore {
            do {
                try await shared.client.createBucket()
            } catch {
                // Not fatal: this replica serves from its disk and the upstream tiers meanwhile.
                logger.warning("the shared store is not usable now", metadata: ["error": "\(error)"])
            }
        }
        do {
            // The rest of the reconciling (a walk of the whole cache) runs once the ports
            // are open: ReconcileService.
            let report = try await Reconciler(store: disk.blobs, index: disk.index).confirmProvisional()
            if report != Reconciler.Report() { logger.notice("cache reconciled", metadata: ["report": "\(report)"]) }
        } catch {
            throw StartupError(description: "cannot reconcile the cache index with \(configuration.cacheDirectory): \(error)")
        }
    }

    /// What `strata serve` says once its ports listen (``StartupSummary``).
    public func startupSummary(registryPort: Int, adminPort: Int?) -> [String] {
        StartupSummary.lines(configuration, tiers: engine.tierStatus(), instanceID: instanceID, registryPort: registryPort, adminPort: adminPort)
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
