import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import StrataCore
import StrataMirror

/// The registry port: the OCI distribution pull API over the mirror engine.
///
/// Paths are parsed by ``RegistryPath`` (names contain `/`, so no router pattern fits);
/// every answer carries `X-Strata-Tier`, and every error the spec's JSON body.
public struct RegistryResponder: HTTPResponder {
    public typealias Context = StrataRequestContext

    let engine: MirrorEngine
    let logger: Logger
    /// This Strata's id: a request whose `Via` already names it is a loop.
    let instanceID: String
    /// Repository-name prefixes that select a registry (podman `location = "host/ghcr"`).
    let prefixes: [String: String]
    /// Where every request is recorded, once its body is written.
    let ledger: Ledger?
    private let now: @Sendable () -> Date

    /// When set, every request needs a valid Basic login.
    let authenticator: ClientAuthenticator?
    /// With a login required and a shared store: blob reads by the other replicas, which
    /// prove themselves with a token keyed from the store's secret (``PeerToken``).
    let peers: PeerToken?
    /// Raw cache hits go out with sendfile: the connection has a ``FileRegionHandler``.
    let fileRegions: Bool

    public init(engine: MirrorEngine, logger: Logger, instanceID: String, prefixes: [String: String] = [:],
                ledger: Ledger? = nil, authenticator: ClientAuthenticator? = nil, peers: PeerToken? = nil, fileRegions: Bool = false,
                now: @escaping @Sendable () -> Date = Date.init) {
        self.authenticator = authenticator
        self.peers = peers
        self.fileRegions = fileRegions
        self.engine = engine
        self.logger = logger
        self.instanceID = instanceID
        self.prefixes = prefixes
        self.ledger = ledger
        self.now = now
    }

    public func respond(to request: Request, context: Context) async throws -> Response {
        let started = now()
        let clock = ContinuousClock.now
        let exchange = Exchange()
        var response: Response
        do {
            response = try await route(request, exchange, channel: context.channel)
        } catch let error as MirrorError {
            let mapped = RegistryError(error)
            if let cause = error.cause { logger.error("request failed", metadata: ["path": "\(request.uri.path)", "cause": "\(cause)"]) }
            exchange.update { $0.error = mapped.code.rawValue; $0.attempts = error.attempts.map(LedgerRecord.Attempt.init) }
            response = Self.errorResponse(mapped, head: request.method == .head)
            // Every tier failed and some are cooling off (a 429, or repeated failures): when to come back.
            if mapped.status == 503, let wait = error.attempts.compactMap(\.retryAfter).min() {
                response.headers[.retryAfter] = String(Int(min(wait, 86400).rounded(.up)))
            }
            // This mirror works; its tiers did not. A Strata in front of it reads this and
            // keeps it out of its breaker (the tier answered).
            if error == .tiersFailed {
                response.headers[Self.upstreamFailedHeader] = error.attemptsSummary
            }
        } catch let error as RegistryError {
            exchange.update { $0.error = error.code.rawValue }
            response = Self.errorResponse(error, head: request.method == .head)
        } catch let error as ValidationError {
            exchange.update { $0.error = error.registryCode.rawValue }
            response = Self.errorResponse(RegistryError(error.registryCode, error.description), head: request.method == .head)
        } catch {
            // Anything else is local (the index, the store): its text may name files,
            // so it goes to the log and the client gets the spec's body without it.
            logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            exchange.update { $0.error = RegistryErrorCode.unavailable.rawValue }
            response = Self.errorResponse(RegistryError(.unavailable, "internal error (the server log says why)"), head: request.method == .head)
        }
        response.headers[Self.tierHeader] = response.headers[Self.tierHeader] ?? exchange.info.tier
        guard let ledger else { return response }
        // Record once the body is written (or cut off), with the bytes that went out.
        let base = Self.ledgerRecord(time: started, client: Self.clientAddress(context), request.method, target: request.uri.description,
                                     headers: request.headers, status: response.status)
        let body = response.body
        // A body sent from a file writes instructions, not bytes: the route counts those.
        let countsBuffers = response.headers[Self.fileRegionHeader] == nil
        response.body = ResponseBody(contentLength: body.contentLength) { writer in
            let sent = NIOLockedValueBox<Int64>(0)
            var failure: (any Error)? = nil
            do {
                try await body.write(writer.map { buffer in
                    if countsBuffers { sent.withLockedValue { $0 += Int64(buffer.readableBytes) } }
                    return buffer
                })
            } catch {
                failure = error
            }
            let info = exchange.info
            ledger.record(Self.finish(base, info, bytes: sent.withLockedValue { $0 } + info.fileRegionBytes,
                                      seconds: (ContinuousClock.now - clock).inSeconds, aborted: failure != nil))
            if let failure { throw failure }
        }
        return response
    }

    /// A request's ledger record before its route ran: who asked what, and the status.
    static func ledgerRecord(time: Date, client: String, _ method: HTTPRequest.Method, target: String, headers: HTTPFields,
                             status: HTTPResponse.Status) -> LedgerRecord {
        var record = LedgerRecord(
            time: time, client: client, userAgent: headers[.userAgent] ?? "",
            method: method.rawValue, path: target, kind: .other,
            status: Int(status.code), bytes: 0, seconds: 0, tier: "none")
        let hops = ViaHeader.stratas(headers[values: .via].joined(separator: ", "))
        record.via = hops.isEmpty ? nil : hops.joined(separator: ",")
        return record
    }

    static func finish(_ base: LedgerRecord, _ info: Exchange.Info, bytes: Int64, seconds: Double, aborted: Bool) -> LedgerRecord {
        var record = base
        record.kind = info.kind
        record.registry = info.registry
        record.repository = info.repository
        record.reference = info.reference
        record.tier = info.tier
        record.tierPath = info.tierPath
        record.attempts = info.fill.map { $0.attempts.map(LedgerRecord.Attempt.init) } ?? info.attempts
        record.error = aborted ? "aborted" : info.fill?.notCachedReason ?? info.error
        record.bytes = bytes
        record.seconds = seconds
        return record
    }

    /// A `GET` or `HEAD` of a blob carrying a valid peer token for its own path.
    private func isPeerBlobRead(_ request: Request) -> Bool {
        guard let peers, request.method == .get || request.method == .head,
              let token = request.headers[HTTPField.Name(PeerToken.header)!],
              case .blob = try? RegistryPath(path: request.uri.path) else { return false }
        // The token signs the whole request target: a query added to a replayed one fails it.
        return peers.verify(token, path: request.uri.description, now: now())
    }

    static func clientAddress(_ context: Context) -> String {
        guard let address = context.remoteAddress else { return "" }
        return address.ipAddress ?? "\(address)"
    }

    private func route(_ request: Request, _ exchange: Exchange, channel: any Channel) async throws -> Response {
        let loggedIn = authenticator.map { $0.isAuthorized(request.headers[.authorization]) } ?? true
        if !loggedIn && !isPeerBlobRead(request) {
            throw RegistryError(.unauthorized, "authentication required")
        }
        let target = try resolve(method: request.method, uri: request.uri, headers: request.headers)
        let path = target.path
        exchange.update { info in
            info.registry = target.registry
            switch path {
            case .base: info.kind = .base
            case .catalog: info.kind = .catalog
            case .tagsList(let name): info.kind = .tags; info.repository = name.value
            case .referrers(let name, let digest): info.kind = .referrers; info.repository = name.value; info.reference = digest.description
            case .manifest(let name, let reference): info.kind = .manifest; info.repository = name.value; info.reference = reference.description
            case .blob(let name, let digest): info.kind = .blob; info.repository = name.value; info.reference = digest.description
            case .blobUpload(let name): info.repository = name.value
            }
        }
        var response = try await answer(request, path: path, registry: target.registry, via: target.via, exchange: exchange, channel: channel)
        if let namespace = target.namespaceHeader { response.headers[Self.namespaceHeader] = namespace }
        return response
    }

    /// What a request asks for, once its method, path, `Via` and namespace were checked.
    struct Target {
        let path: RegistryPath
        let registry: String
        /// The request's `Via`, passed on upstream; nil when it had none.
        let via: String?
        /// The `OCI-Namespace` answer header: the registry, when it is not the default one
        /// or the client named it.
        let namespaceHeader: String?
    }

    /// Parses and checks what a request asks for: the same for every request, whichever
    /// path answers it. Throws the error the client gets.
    func resolve(method: HTTPRequest.Method, uri: URI, headers: HTTPFields) throws -> Target {
        guard let parsed = try RegistryPath(path: uri.path) else {
            throw RegistryError(.nameUnknown, "no such endpoint: \(uri.path)", status: 404)
        }
        if case .blobUpload = parsed {
            throw RegistryError(.unsupported, "this registry is a read-only mirror: push is not supported")
        }
        guard method == .get || method == .head else {
            throw RegistryError(.unsupported, "this registry is a read-only mirror: \(method.rawValue) is not supported")
        }
        let via = headers[values: .via].joined(separator: ", ")
        if ViaHeader.names(via, instanceID: instanceID) {
            throw RegistryError(.loopDetected, "mirror loop: this request already passed through strata-\(instanceID)")
        }
        var registry = try registryName(uri)
        let namespaced = uri.queryParameters["ns"] != nil
        var path = parsed
        if let (prefixed, target) = unprefixed(path) {
            path = prefixed
            registry = target
        }
        let showsNamespace = namespaced || registry != engine.configuration.defaultRegistry
        return Target(path: path, registry: registry, via: via.isEmpty ? nil : via, namespaceHeader: showsNamespace ? registry : nil)
    }

    /// Maps a configured first path component to its registry: `/v2/ghcr/org/x/...`
    /// with `prefixes: {ghcr: ghcr.io}` is `org/x` of `ghcr.io`.
    private func unprefixed(_ path: RegistryPath) -> (RegistryPath, String)? {
        func split(_ name: RepositoryName) -> (RepositoryName, String)? {
            guard let slash = name.value.firstIndex(of: "/"), let registry = prefixes[String(name.value[..<slash])],
                  let rest = try? RepositoryName(String(name.value[name.value.index(after: slash)...])) else { return nil }
            return (rest, registry)
        }
        switch path {
        case .manifest(let name, let reference): return split(name).map { (.manifest($0.0, reference), $0.1) }
        case .blob(let name, let digest): return split(name).map { (.blob($0.0, digest), $0.1) }
        case .tagsList(let name): return split(name).map { (.tagsList($0.0), $0.1) }
        case .referrers(let name, let digest): return split(name).map { (.referrers($0.0, digest), $0.1) }
        case .base, .catalog, .blobUpload: return nil
        }
    }

    private func answer(_ request: Request, path: RegistryPath, registry: String, via: String?, exchange: Exchange,
                        channel: any Channel) async throws -> Response {
        let method = request.method
        switch path {
        case .base:
            exchange.update { $0.tier = "none" }
            return Response(status: .ok, headers: Self.baseHeaders(contentType: "application/json"), body: .init(byteBuffer: ByteBuffer(string: "{}")))
        case .catalog:
            let all = try await engine.repositories(registry: registry).map(\.value)
            let (page, next) = Self.page(all, request)
            var headers = Self.baseHeaders(contentType: "application/json")
            if let next { headers[Self.linkHeader] = "</v2/_catalog?last=\(next)&n=\(page.count)>; rel=\"next\"" }
            let body = "{\"repositories\":[\(page.map(JSONString.quote).joined(separator: ","))]}"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
        case .tagsList(let name):
            let result = try await engine.tagList(registry: registry, repository: name, via: via)
            exchange.update { info in
                info.tier = result.tier.description
                info.tierPath = result.path
                info.attempts = result.attempts.map(LedgerRecord.Attempt.init)
            }
            let (page, next) = Self.page(result.tags.map(\.value), request)
            var headers = Self.baseHeaders(contentType: "application/json")
            headers[Self.tierHeader] = result.tier.description
            headers[Self.pathHeader] = result.path.joined(separator: ",")
            if result.stale { headers[Self.warningHeader] = "110 strata \"Response is stale\"" }
            if let next { headers[Self.linkHeader] = "</v2/\(name)/tags/list?last=\(next)&n=\(page.count)>; rel=\"next\"" }
            let body = "{\"name\":\(JSONString.quote(name.value)),\"tags\":[\(page.map(JSONString.quote).joined(separator: ","))]}"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
        case .referrers(let name, let subject):
            let result = try await engine.referrers(registry: registry, repository: name, subject: subject, via: via)
            exchange.update { info in
                info.tier = result.tier.description
                info.tierPath = result.path
                info.attempts = result.attempts.map(LedgerRecord.Attempt.init)
            }
            // Filtered here, whatever the tier did: the whole list is what is kept.
            let artifactType = request.uri.queryParameters["artifactType"].flatMap { $0.isEmpty ? nil : String($0) }
            // Unfiltered, a list goes out as kept; only a filter parses it.
            let bytes = artifactType.map { result.index.filtered(artifactType: $0).bytes } ?? result.encoded
            var headers = Self.baseHeaders(contentType: MediaType.ociIndex.value)
            headers[.contentLength] = String(bytes.count)
            headers[Self.tierHeader] = result.tier.description
            headers[Self.pathHeader] = result.path.joined(separator: ",")
            if artifactType != nil { headers[Self.filtersAppliedHeader] = "artifactType" }
            if result.stale { headers[Self.warningHeader] = "110 strata \"Response is stale\"" }
            if method == .head { return Response(status: .ok, headers: headers, body: .init()) }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        case .manifest(let name, let reference):
            let accept = ManifestAccept.parsing(request.headers[values: .accept])
            let result = try await engine.manifest(registry: registry, repository: name, reference: reference, accept: accept, via: via)
            exchange.update { info in
                info.tier = result.tier.description
                info.tierPath = result.path
                info.attempts = result.attempts.map(LedgerRecord.Attempt.init)
            }
            let headers = Self.manifestHeaders(result)
            if method == .head { return Response(status: .ok, headers: headers, body: .init()) }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: result.bytes)))
        case .blob(let name, let digest):
            return try await blob(request, registry: registry, name: name, digest: digest, via: via, exchange: exchange, channel: channel)
        case .blobUpload:
            throw RegistryError(.unsupported, "push is not supported")
        }
    }

    private func blob(_ request: Request, registry: String, name: RepositoryName, digest: Digest, via: String?, exchange: Exchange,
                      channel: any Channel) async throws -> Response {
        let head = request.method == .head
        let result = try await engine.blob(registry: registry, repository: name, digest: digest, headOnly: head, via: via)
        var headers = Self.blobHeaders(digest)
        let size: Int64?
        switch result {
        case .stored(let blob):
            size = blob.size
            headers[Self.tierHeader] = TierName.local.description
            headers[Self.pathHeader] = TierName.local.description
            exchange.update { $0.tier = "local"; $0.tierPath = ["local"] }
        case .filling(let fill, let total, _):
            size = total
            headers[Self.tierHeader] = fill.tier.description
            headers[Self.pathHeader] = fill.path.joined(separator: ",")
            exchange.update { $0.tier = fill.tier.description; $0.tierPath = fill.path; $0.fill = fill }
        case .upstreamHead(let total, let tier, let path, let attempts):
            size = total
            headers[Self.tierHeader] = tier.description
            headers[Self.pathHeader] = path.joined(separator: ",")
            exchange.update { $0.tier = tier.description; $0.tierPath = path; $0.attempts = attempts.map(LedgerRecord.Attempt.init) }
        }
        var range = ByteRangeRequest.whole
        if let size, !head { range = ByteRangeRequest(header: request.headers[.range], size: size) }
        var status = HTTPResponse.Status.ok
        var lower: Int64 = 0
        var upper: Int64? = size
        switch range {
        case .whole:
            if let size { headers[.contentLength] = String(size) }
        case .partial(let l, let u):
            status = .partialContent
            lower = l
            upper = u
            headers[.contentLength] = String(u - l)
            headers[.contentRange] = "bytes \(l)-\(u - 1)/\(size ?? 0)"
        case .unsatisfiable:
            headers[.contentRange] = "bytes */\(size ?? 0)"
            var error = Self.errorResponse(RegistryError(.rangeInvalid, "range not satisfiable for a blob of \(size ?? 0) bytes"), head: false)
            error.headers[.contentRange] = "bytes */\(size ?? 0)"
            return error
        }
        if head { return Response(status: status, headers: headers, body: .init()) }
        let bytes = BlobBody(digest: digest, from: lower, to: upper, contentLength: headers[.contentLength].flatMap { Int($0) },
                             exchange: exchange, inUse: engine.inUse, logger: logger)
        // Plain-text connections get the bytes with sendfile.
        let (body, token) = await bytes.make(result, sendfileOn: fileRegions ? channel : nil)
        if let token { headers[Self.fileRegionHeader] = String(token) }
        return Response(status: status, headers: headers, body: body)
    }

    /// The registry a request is for: containerd's `?ns=`, else the default.
    private func registryName(_ uri: URI) throws -> String {
        guard let ns = uri.queryParameters["ns"].map(String.init), !ns.isEmpty else {
            return engine.configuration.defaultRegistry
        }
        let allowed = ns.utf8.allSatisfy { b in
            (b >= 0x61 && b <= 0x7a) || (b >= 0x41 && b <= 0x5a) || (b >= 0x30 && b <= 0x39) || b == 0x2e || b == 0x2d || b == 0x3a
        }
        guard allowed, ns.count <= 253 else { throw RegistryError(.nameInvalid, "invalid ns parameter") }
        return ns.lowercased()
    }

    // Header names, parsed once rather than per request.
    static let tierHeader = HTTPField.Name("X-Strata-Tier")!
    static let fileRegionHeader = HTTPField.Name(FileRegionMarker.headerName)!
    static let pathHeader = HTTPField.Name("X-Strata-Path")!
    static let upstreamFailedHeader = HTTPField.Name(UpstreamFailedHeader.name)!
    static let namespaceHeader = HTTPField.Name("OCI-Namespace")!
    static let linkHeader = HTTPField.Name("Link")!
    static let digestHeader = HTTPField.Name("Docker-Content-Digest")!
    static let warningHeader = HTTPField.Name("Warning")!
    static let filtersAppliedHeader = HTTPField.Name("OCI-Filters-Applied")!
    static let apiVersionHeader = HTTPField.Name("Docker-Distribution-Api-Version")!

    /// A blob answer's headers before its tier, size and range are known.
    static func blobHeaders(_ digest: Digest) -> HTTPFields {
        var headers = Self.baseHeaders(contentType: "application/octet-stream")
        headers[Self.digestHeader] = digest.description
        headers[.eTag] = "\"\(digest)\""
        headers[.acceptRanges] = "bytes"
        return headers
    }

    /// A manifest answer's headers (the body is the manifest's bytes).
    static func manifestHeaders(_ result: ManifestResult) -> HTTPFields {
        var headers = Self.baseHeaders(contentType: result.mediaType)
        headers[.contentLength] = String(result.bytes.count)
        headers[Self.digestHeader] = result.digest.description
        headers[.eTag] = "\"\(result.digest)\""
        headers[Self.tierHeader] = result.tier.description
        headers[Self.pathHeader] = result.path.joined(separator: ",")
        if result.stale { headers[Self.warningHeader] = "110 strata \"Response is stale\"" }
        return headers
    }

    static func baseHeaders(contentType: String) -> HTTPFields {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        headers[Self.apiVersionHeader] = "registry/2.0"
        return headers
    }

    static func errorResponse(_ error: RegistryError, head: Bool) -> Response {
        var headers = baseHeaders(contentType: "application/json")
        let body = ByteBuffer(string: error.jsonBody)
        headers[.contentLength] = String(body.readableBytes)
        if error.code == .unsupported { headers[.allow] = "GET, HEAD" }
        if error.code == .unauthorized { headers[.wwwAuthenticate] = "Basic realm=\"strata\"" }
        return Response(status: .init(code: error.status), headers: headers, body: head ? .init() : .init(byteBuffer: body))
    }

    /// `n`/`last` paging over a sorted list. Returns the page and the last item when more follow.
    static func page(_ all: [String], _ request: Request) -> ([String], String?) {
        var items = all
        if let last = request.uri.queryParameters["last"].map(String.init), !last.isEmpty {
            items = items.filter { $0 > last }
        }
        guard let n = request.uri.queryParameters["n"].flatMap({ Int($0) }), n >= 0, n < items.count else { return (items, nil) }
        let page = Array(items.prefix(n))
        return (page, page.last)
    }
}
