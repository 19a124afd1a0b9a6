import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import StrataAdminModel
import StrataCore
import StrataMirror

/// The admin port's routes: the ledger, stats, tiers, cache listing, metrics, health
/// and the dashboard. Separate from the registry port, bound to loopback by default.
public struct AdminRoutes: Sendable {
    let engine: MirrorEngine
    let inventory: any CacheInventory
    let ledger: Ledger
    let metrics: StrataMetrics
    let instanceID: String
    /// The cache's bound (`cache.max_size`), for the dashboard's disk use.
    let maxCacheBytes: Int64?
    /// Waits for the eviction a prefetch set off (see ``Prefetcher``).
    let settle: @Sendable () async -> Void

    public init(engine: MirrorEngine, inventory: any CacheInventory, ledger: Ledger, metrics: StrataMetrics, instanceID: String,
                maxCacheBytes: Int64? = nil, settle: @escaping @Sendable () async -> Void = {}) {
        self.maxCacheBytes = maxCacheBytes
        self.settle = settle
        self.engine = engine
        self.inventory = inventory
        self.ledger = ledger
        self.metrics = metrics
        self.instanceID = instanceID
    }

    /// A router with every admin route; with `token`, every route needs `Authorization: Bearer <token>`.
    /// `listenHost` is the host the port listens on, for the ``AdminRequestGuard``.
    /// `secure`: the port serves HTTPS (session cookies are `Secure`).
    public func router(token: String?, listenHost: String = "127.0.0.1", secure: Bool = false,
                       logger: Logger = Logger(label: "strata-admin")) -> Router<AdminRequestContext> {
        let router = Router(context: AdminRequestContext.self)
        router.add(middleware: AdminGuardMiddleware(guardrail: AdminRequestGuard(listenHost: listenHost, tokenRequired: token != nil)))
        if let token {
            let login = AdminLogin(token: token, secure: secure, logger: logger)
            router.add(middleware: AdminAuthMiddleware(token: token, login: login))
            login.routes(router)
        }
        router.get("/healthz") { _, _ in Self.text("ok\n") }
        router.get("/readyz") { _, _ in
            guard inventory.isReady() else {
                return Self.text("not ready: the store is not writable or the index is not open\n", status: .serviceUnavailable)
            }
            // Still ready without the shared store (the disk and the upstream tiers serve), but said;
            // probes need no token, so the why is left to the signed-in views.
            let shared = engine.tierStatus().contains { $0.name == "shared" && $0.breaker != "closed" }
            return Self.text("ready\n" + (shared ? "shared store unavailable\n" : ""))
        }
        router.get("/api/requests") { request, _ in
            let q = request.uri.queryParameters
            let limit = q["limit"].flatMap { Int($0) }.map { min(max($0, 1), ledger.capacity) } ?? 100
            let since = q["since"].flatMap { Self.parseDate(String($0)) }
            let records = ledger.recent(limit: limit, tier: q["tier"].map(String.init), repository: q["repo"].map(String.init), since: since)
            return try Self.json(RequestsAnswer(requests: records))
        }
        router.get("/api/stats") { _, _ in try Self.json(ledger.stats()) }
        router.get("/api/tiers") { _, _ in
            try Self.json(TiersAnswer(instanceID: instanceID, mode: engine.configuration.cacheOnly ? "cache-only" : "normal", tiers: engine.tierStatus()))
        }
        router.get("/api/cache") { request, _ in
            var listing = try await inventory.cacheListing(registry: request.uri.queryParameters["registry"].map(String.init), repository: nil)
            listing.maxBytes = maxCacheBytes
            return try Self.json(listing)
        }
        router.get("/api/cache/**") { request, context in
            let repository = context.parameters.getCatchAll().joined(separator: "/")
            let listing = try await inventory.cacheListing(registry: request.uri.queryParameters["registry"].map(String.init), repository: repository)
            guard !listing.repositories.isEmpty else {
                return try Self.json(ErrorAnswer(error: "repository \(repository) is not cached"), status: .notFound)
            }
            return try Self.json(listing)
        }
        router.get("/api/tags/deleted") { _, _ in try Self.json(DeletedTags(deleted: try await engine.deletedTags())) }
        router.post("/api/tags/restore") { request, _ in try await self.restoreTag(request) }
        router.post("/api/prefetch") { request, _ in try await self.prefetch(request) }
        router.get("/metrics") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: metrics.render())))
        }
        router.get("/") { _, _ in try await self.dashboard(signedIn: token != nil) }
        return router
    }

    /// `POST /api/prefetch`: `{"images": [...], "platforms": [...], "referrers": true}`;
    /// progress as JSON lines while it runs, the summary last.
    private func prefetch(_ request: Request) async throws -> Response {
        struct Ask: Decodable { let images: [String]; let platforms: [String]?; let referrers: Bool? }
        let body = try await request.body.collect(upTo: 1 << 20)
        guard let ask = try? JSONDecoder().decode(Ask.self, from: Data(body.readableBytesView)), !ask.images.isEmpty else {
            return try Self.json(ErrorAnswer(error: "expected {\"images\": [...], \"platforms\": [...]}"), status: .badRequest)
        }
        var references: [ImageReference] = []
        for image in ask.images {
            guard let reference = ImageReference(parsing: image, defaultRegistry: engine.configuration.defaultRegistry) else {
                return try Self.json(ErrorAnswer(error: "not an image reference: \(image)"), status: .badRequest)
            }
            references.append(reference)
        }
        let prefetcher = Prefetcher(engine: engine, ledger: ledger, settle: settle)
        let images = references
        var headers = HTTPFields()
        headers[.contentType] = "application/x-ndjson"
        // Progress as JSON lines while it runs; the summary is the last line.
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let summary = await prefetcher.run(images, platforms: ask.platforms, withReferrers: ask.referrers ?? false) { event in
                guard var line = try? encoder.encode(event) else { return }
                line.append(0x0a)
                try? await writer.write(ByteBuffer(bytes: line))
            }
            var line = try encoder.encode(["summary": summary])
            line.append(0x0a)
            try await writer.write(ByteBuffer(bytes: line))
            try await writer.finish(nil)
        })
    }

    /// `POST /api/tags/restore`: `{"image": "docker.io/library/alpine:3.20"}` puts that
    /// deleted tag back; 404 when it is not among the deleted tags.
    private func restoreTag(_ request: Request) async throws -> Response {
        struct Ask: Decodable { let image: String }
        let body = try await request.body.collect(upTo: 64 << 10)
        guard let ask = try? JSONDecoder().decode(Ask.self, from: Data(body.readableBytesView)) else {
            return try Self.json(ErrorAnswer(error: "expected {\"image\": \"REPOSITORY:TAG\"}"), status: .badRequest)
        }
        guard let reference = ImageReference(parsing: ask.image, defaultRegistry: engine.configuration.defaultRegistry),
              case .tag(let tag) = reference.reference else {
            return try Self.json(ErrorAnswer(error: "not an image reference with a tag: \(PrintableText.make(ask.image, limit: 200))"), status: .badRequest)
        }
        guard let restored = try await engine.restoreTag(registry: reference.registry, repository: reference.repository, tag: tag) else {
            return try Self.json(ErrorAnswer(error: "\(reference.registry)/\(reference.repository):\(tag) is not among the deleted tags (strata ls --deleted lists them)"),
                                 status: .notFound)
        }
        return try Self.json(restored)
    }

    /// `GET /`: the dashboard page.
    private func dashboard(signedIn: Bool) async throws -> Response {
        let page = DashboardPage(stats: ledger.stats(), tiers: engine.tierStatus(), recent: ledger.recent(limit: 25),
                                 cache: try? await inventory.cacheListing(registry: nil, repository: nil), instanceID: instanceID,
                                 cacheOnly: engine.configuration.cacheOnly, now: Date(),
                                 storedBytes: (try? inventory.storedBytes())?.stored, maxBytes: maxCacheBytes,
                                 lastHour: ledger.series(bucketMinutes: 1, buckets: 60), lastDay: ledger.series(bucketMinutes: 15, buckets: 96),
                                 topRepositories: ledger.topRepositories(limit: 10), prefetch: ledger.prefetchActivity(),
                                 signedIn: signedIn).render()
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: page)))
    }

    struct RequestsAnswer: Encodable { let requests: [LedgerRecord] }
    struct TiersAnswer: Encodable { let instanceID: String; let mode: String; let tiers: [MirrorEngine.TierStatus] }
    struct ErrorAnswer: Encodable { let error: String }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    static func text(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// ISO 8601 (`2026-11-22T15:00:00Z`, fractions allowed) or seconds since 1970.
    static func parseDate(_ text: String) -> Date? {
        if let seconds = Double(text) { return seconds.isFinite ? Date(timeIntervalSince1970: seconds) : nil }
        // Foundation's date formatters trap on some non-ASCII input: a date is ASCII.
        guard text.utf8.count <= 40, text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { return nil }
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }
}
