import AsyncHTTPClient
import Foundation
import Logging
import NIOPosix
import NIOSSL
import StrataCore
import StrataMirror
import StrataObjectStore
import StrataStore
import StrataUpstream

/// The object store the replicas of a central mirror share (`store.s3`), as a tier of
/// its own: an engine over the bucket, put first in every registry's chain, that holds
/// blobs, manifests and tags and fetches manifests and tags from the upstream tiers (so a
/// tag revalidated by one replica is fresh for all). Next comes the fill leases' tier
/// (`mirror/peer`): a blob another replica is filling is fetched from it. A blob in no
/// bucket and no other replica's fill is fetched by this replica's own engine from the
/// upstream tiers into its disk, and written back to the bucket from there
/// (``SharedWriteBack``). When the store fails, the walk goes on to the upstream tiers.
struct SharedStoreWiring {
    let engine: MirrorEngine
    let store: S3ContentStore
    let http: HTTPClient
    /// For blobs fetched from the replica holding a fill lease: a tier's timeouts, not the bucket's.
    let peerHTTP: HTTPClient
    /// One fill per blob across the replicas (leases in the bucket).
    let peers: PeerFillSource
    /// The bucket's bound and idle expiry.
    let janitor: SharedJanitor
    /// Every registry's chain with the shared store first, then the fill leases.
    let chains: [String: TierChain]
    /// The replica's own store, writing what it stores back to the bucket.
    let local: SharedWriteBack

    init(_ settings: StrataConfiguration.SharedStore, configuration: StrataConfiguration, upstream: [String: TierChain], disk: DiskContentStore,
         instanceID: String, logger: Logger, now: @escaping @Sendable () -> Date) throws(StrataServer.StartupError) {
        let environment = ProcessInfo.processInfo.environment
        guard let accessKey = settings.accessKey ?? environment["AWS_ACCESS_KEY_ID"],
              let secretKey = settings.secretKey ?? environment["AWS_SECRET_ACCESS_KEY"] else {
            throw .init(description: "store.s3 needs credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or store.s3.access_key_file and secret_key_file")
        }
        var httpConfiguration = HTTPClient.Configuration(redirectConfiguration: .disallow,
                                                         timeout: .init(connect: .seconds(2), read: .seconds(60)))
        if let path = settings.caFile {
            let certificates: [NIOSSLCertificate]
            do {
                certificates = try NIOSSLCertificate.fromPEMFile(path)
            } catch {
                throw .init(description: "cannot use store.s3.ca_file \(path): \(error)")
            }
            guard !certificates.isEmpty else { throw .init(description: "store.s3.ca_file \(path) holds no PEM certificate") }
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates(certificates)
            httpConfiguration.tlsConfiguration = tls
        }
        httpConfiguration.decompression = .disabled
        httpConfiguration.connectionPool.retryConnectionEstablishment = false
        http = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: httpConfiguration)
        let client = S3Client(.init(endpoint: settings.endpoint, bucket: settings.bucket, region: settings.region,
                                    accessKey: accessKey, secretKey: secretKey, pathStyle: settings.pathStyle), http: http, now: now)
        store = S3ContentStore(client: client, prefix: settings.prefix, scratch: disk.blobs)
        // A lease holder is asked as a tier is: its timeouts and its rate watchdog.
        peerHTTP = UpstreamWiring.client(connectTimeout: configuration.connectTimeout, firstByteTimeout: configuration.firstByteTimeout)
        peers = PeerFillSource(store: store, http: peerHTTP, instanceID: instanceID, logger: logger,
                               minimumRate: UpstreamWiring.minimumRate(configuration.limits), now: now)
        janitor = SharedJanitor(store: store, replica: instanceID, maxSize: settings.maxSize, maxIdle: settings.maxIdle)
        let peerHealth = TierHealth(breaker: CircuitBreaker(failureThreshold: configuration.breakerFailures, coolOff: configuration.breakerCoolOff), now: now,
                                    observer: UpstreamWiring.breakerLog(tier: "mirror/peer", registries: "all", logger: logger))
        let peerTier = UpstreamTier(name: .mirror("peer"), client: peers, health: peerHealth)
        let manifestChains = upstream.mapValues { chain in
            TierChain(chain.tiers.map { UpstreamTier(name: $0.name, client: ManifestsOnlySource($0.client), health: $0.health) })
        }
        // No negative cache here: a blob this engine does not have is fetched by the
        // replica's engine, and is in the bucket soon after.
        engine = MirrorEngine(
            local: store,
            configuration: MirrorConfiguration(tagTTL: configuration.tagTTL, cacheOnly: configuration.cacheOnly,
                                               defaultRegistry: configuration.defaultRegistry,
                                               chains: manifestChains, negativeTTL: 0, keepDeletedTags: configuration.keepDeletedTags,
                                               referrersTTL: configuration.referrersTTL,
                                               rangedFill: RangedFillSettings(threshold: configuration.limits.rangedFillThreshold,
                                                                              connections: configuration.limits.rangedFillConnections)),
            logger: logger, now: now)
        local = SharedWriteBack(local: disk, shared: store, logger: logger)
        let health = TierHealth(breaker: CircuitBreaker(failureThreshold: configuration.breakerFailures, coolOff: configuration.breakerCoolOff), now: now,
                                observer: UpstreamWiring.breakerLog(tier: "shared", registries: "all", logger: logger))
        let location = "\(settings.endpoint)/\(settings.bucket)"
        var chains: [String: TierChain] = [:]
        for (registry, chain) in upstream {
            let source = MirrorSource(engine: engine, registry: registry, location: location, isAvailable: { client.isAvailable })
            let shared = UpstreamTier(name: .shared, client: source, health: health)
            chains[registry] = TierChain([shared, peerTier] + chain.tiers)
        }
        self.chains = chains
    }
}
