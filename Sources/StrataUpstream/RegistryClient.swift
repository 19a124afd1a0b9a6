import AsyncHTTPClient
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import StrataCore

/// A client for one upstream registry: the pull API, with Bearer-token and Basic auth
/// and redirects that never carry the registry's `Authorization` to another host.
public final class RegistryClient: Sendable {
    public let baseURL: String
    public let credentials: Credentials?
    /// Sent as `?ns=` to upstream mirrors that serve several registries.
    public let namespace: String?
    private let http: HTTPClient
    private let tokens = TokenCache()
    private let challenge = ChallengeMemory()
    private let resolvedOrigin = NIOLockedValueBox<[IPAddressClass]?>(nil)
    private let extraHeaders: [(String, String)]
    private let logger: Logger
    private let now: @Sendable () -> Date
    /// This Strata's id, added to `Via` so a chain of mirrors can refuse a loop.
    public let instanceID: String?
    /// Hears a tier's `ratelimit-limit` and `ratelimit-remaining`, whenever an answer has either.
    private let rateLimitObserver: (@Sendable (_ limit: String?, _ remaining: String?) -> Void)?
    /// Largest manifest and token answer taken; a larger one is an invalid answer.
    private let maxManifestSize: Int
    private let maxTokenSize: Int
    /// Blob bodies slower than this are abandoned (nil: no minimum).
    private let minimumRate: StreamedReply.MinimumRate?

    public init(
        baseURL: String, credentials: Credentials? = nil, namespace: String? = nil, http: HTTPClient,
        instanceID: String? = nil, extraHeaders: [(String, String)] = [], logger: Logger,
        now: @escaping @Sendable () -> Date = Date.init, rateLimitObserver: (@Sendable (_ limit: String?, _ remaining: String?) -> Void)? = nil,
        maxManifestSize: Int = 4 << 20, maxTokenSize: Int = 1 << 20, minimumRate: StreamedReply.MinimumRate? = nil
    ) {
        self.minimumRate = minimumRate
        self.maxManifestSize = maxManifestSize
        self.maxTokenSize = maxTokenSize
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.credentials = credentials
        self.namespace = namespace
        self.http = http
        self.instanceID = instanceID
        self.extraHeaders = extraHeaders
        self.logger = logger
        self.now = now
        self.rateLimitObserver = rateLimitObserver
    }

    /// The `Via` value to send: what the client's request carried, then this Strata.
    func via(_ incoming: String?) -> String? {
        guard let instanceID else { return incoming }
        let own = "1.1 strata-\(instanceID)"
        guard let incoming, !incoming.isEmpty else { return own }
        return "\(incoming), \(own)"
    }

    /// The tier path a Strata upstream reported (`X-Strata-Path`, else `X-Strata-Tier`).
    static func remotePath(_ headers: HTTPHeaders) -> [String] {
        if let path = headers.first(name: "X-Strata-Path") {
            return path.split(separator: ",").map { $0.trimmingCharacters(in: " ") }
        }
        return headers.first(name: "X-Strata-Tier").map { [$0] } ?? []
    }

    // MARK: Pull API

    /// `HEAD` a manifest: its digest, media type and size, without counting as a pull.
    public func headManifest(_ repository: RepositoryName, _ reference: Reference, accept: [String], via: String? = nil) async throws(UpstreamError) -> UpstreamManifestHead {
        let response = try await send(.HEAD, manifestPath(repository, reference), accept: accept, via: via, repository: repository)
        try await Self.check(response, what: "manifest \(repository):\(reference)")
        await response.drain()
        guard let digestHeader = response.headers.first(name: "Docker-Content-Digest") ?? Self.digestOf(reference),
              let digest = try? Digest(parsing: digestHeader) else {
            throw UpstreamError(.invalidResponse, status: Int(response.status.code), "HEAD answered without Docker-Content-Digest")
        }
        return UpstreamManifestHead(
            digest: digest,
            mediaType: response.headers.first(name: "Content-Type") ?? "",
            size: response.headers.first(name: "Content-Length").flatMap(HeaderNumbers.contentLength),
            remotePath: Self.remotePath(response.headers))
    }

    /// `GET` a manifest, whole, with a bounded size.
    public func getManifest(_ repository: RepositoryName, _ reference: Reference, accept: [String], via: String? = nil) async throws(UpstreamError) -> UpstreamManifest {
        let limit = maxManifestSize
        let response = try await send(.GET, manifestPath(repository, reference), accept: accept, via: via, repository: repository)
        try await Self.check(response, what: "manifest \(repository):\(reference)")
        let body: ByteBuffer
        do {
            body = try await response.body.collect(upTo: limit)
        } catch {
            throw UpstreamError(.invalidResponse, "manifest body (at most \(limit) bytes): \(error)")
        }
        let digestHeader = response.headers.first(name: "Docker-Content-Digest").flatMap { try? Digest(parsing: $0) }
        return UpstreamManifest(bytes: Array(body.readableBytesView), mediaType: response.headers.first(name: "Content-Type") ?? "",
                                digestHeader: digestHeader, remotePath: Self.remotePath(response.headers))
    }

    /// `HEAD` a blob: its size, if the tier has it.
    public func headBlob(_ repository: RepositoryName, _ digest: Digest, via: String? = nil) async throws(UpstreamError) -> Int64? {
        let response = try await send(.HEAD, "/v2/\(repository.value)/blobs/\(digest)", accept: [], via: via, repository: repository)
        try await Self.check(response, what: "blob \(digest)")
        await response.drain()
        // A HEAD redirected to a blob host became a GET of byte 0: the size is after the slash.
        if response.status == .partialContent {
            return response.headers.first(name: "Content-Range").flatMap(HeaderNumbers.contentRangeTotal)
        }
        return response.headers.first(name: "Content-Length").flatMap(HeaderNumbers.contentLength)
    }

    /// `GET` a blob from `offset` on. The body is the caller's to stream.
    public func getBlob(_ repository: RepositoryName, _ digest: Digest, from offset: Int64 = 0, via: String? = nil) async throws(UpstreamError) -> UpstreamBlob {
        var headers: [(String, String)] = []
        if offset > 0 { headers.append(("Range", "bytes=\(offset)-")) }
        let response = try await send(.GET, "/v2/\(repository.value)/blobs/\(digest)", accept: [], via: via, headers: headers,
                                      repository: repository, transport: executeStreamed)
        try await Self.check(response, what: "blob \(digest)")
        if offset > 0 && response.status != .partialContent {
            await response.drain()
            throw UpstreamError(.invalidResponse, status: Int(response.status.code), "range request for \(digest) not honoured")
        }
        var length: Int64? = nil
        if let text = response.headers.first(name: "Content-Length") {
            // A length this client cannot hold is a lie, not a big blob.
            guard let l = HeaderNumbers.contentLength(text) else {
                response.cancel()
                throw UpstreamError(.invalidResponse, status: Int(response.status.code), "blob \(digest): unusable Content-Length")
            }
            length = l + offset  // both at most 2^62: no overflow
        }
        return UpstreamBlob(totalSize: length, offset: offset, body: response, remotePath: Self.remotePath(response.headers),
                            acceptsRanges: response.status == .partialContent
                                || response.headers.first(name: "Accept-Ranges").map { $0.lowercased().contains("bytes") } == true)
    }

    /// `GET` bytes `range` of a blob; anything but a `206` for exactly that range is refused.
    public func getBlob(_ repository: RepositoryName, _ digest: Digest, range: Range<Int64>, via: String? = nil) async throws(UpstreamError) -> UpstreamBlob {
        guard !range.isEmpty, range.lowerBound >= 0 else { throw UpstreamError(.local, "an empty range of \(digest)") }
        let response = try await send(.GET, "/v2/\(repository.value)/blobs/\(digest)", accept: [], via: via,
                                      headers: [("Range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)")],
                                      repository: repository, transport: executeStreamed)
        try await Self.check(response, what: "blob \(digest)")
        guard response.status == .partialContent,
              let answered = response.headers.first(name: "Content-Range").flatMap(HeaderNumbers.contentRange), answered.range == range,
              response.headers.first(name: "Content-Length").map({ HeaderNumbers.contentLength($0) == range.upperBound - range.lowerBound }) ?? true
        else {
            response.cancel()
            throw UpstreamError(.invalidResponse, status: Int(response.status.code), "range \(range) of \(digest) not answered as asked")
        }
        return UpstreamBlob(totalSize: answered.total, offset: range.lowerBound, body: response, remotePath: Self.remotePath(response.headers),
                            acceptsRanges: true)
    }

    /// Most pages and tags one listing follows: a registry that pages for ever is cut off.
    static let maxTagPages = 100
    static let maxTags = 100_000

    /// `GET` every page of a repository's tags, following `Link: <...>; rel="next"` on
    /// this registry only, each page at most the manifest size limit.
    public func listTags(_ repository: RepositoryName, via: String? = nil) async throws(UpstreamError) -> UpstreamTagList {
        var tags: [Tag] = []
        var seen = Set<Tag>()
        let (remotePath, cutShort) = try await pages("/v2/\(repository.value)/tags/list", accept: ["application/json"], what: "tags of \(repository)",
                                                    most: Self.maxTagPages, via: via, repository: repository) { body throws(UpstreamError) in
            guard let page = TagListPage(parsing: body) else { throw UpstreamError(.invalidResponse, "tags of \(repository): not a tag list") }
            for tag in page.tags where tags.count < Self.maxTags && seen.insert(tag).inserted { tags.append(tag) }
            return !page.tags.isEmpty && tags.count < Self.maxTags
        }
        if cutShort {
            logger.warning("tag list cut short", metadata: ["repository": "\(repository)", "tags": "\(tags.count)"])
        }
        return UpstreamTagList(tags: tags.sorted(), remotePath: remotePath)
    }

    /// `GET` the referrers of `subject`, every page (at most 10), each at most the manifest
    /// size limit. A 404 is "not supported" (or nothing known) and passes on as such.
    public func getReferrers(_ repository: RepositoryName, _ subject: Digest, via: String? = nil) async throws(UpstreamError) -> UpstreamReferrers {
        var entries: [ReferrersIndex.Entry] = []
        let (remotePath, _) = try await pages("/v2/\(repository.value)/referrers/\(subject)", accept: [MediaType.ociIndex.value],
                                             what: "referrers of \(subject)", most: 10, via: via, repository: repository) { body throws(UpstreamError) in
            guard let index = ReferrersIndex(parsing: body) else {
                throw UpstreamError(.invalidResponse, "referrers of \(subject): not an image index of descriptors")
            }
            // Pages past what a cache keeps are not read (ReferrersIndex.maxEntries).
            entries += index.manifests.prefix(max(0, ReferrersIndex.maxEntries - entries.count))
            return !index.manifests.isEmpty && entries.count < ReferrersIndex.maxEntries
        }
        return UpstreamReferrers(index: ReferrersIndex(manifests: entries), remotePath: remotePath)
    }

    /// `GET`s a listing and the pages its `Link` headers name on the same path (at most
    /// `most`), each body at most the manifest size limit, handing each to `take`, which
    /// says whether to go on (a page that adds nothing would loop). Returns the remote
    /// path of the first answer, and whether pages were left unread.
    private func pages(
        _ path: String, accept: [String], what: String, most: Int, via: String?, repository: RepositoryName,
        _ take: ([UInt8]) throws(UpstreamError) -> Bool
    ) async throws(UpstreamError) -> (remotePath: [String], cutShort: Bool) {
        var next: String? = path
        var count = 0
        var remotePath: [String] = []
        while let page = next, count < most {
            count += 1
            let response = try await send(.GET, page, accept: accept, via: via, repository: repository)
            try await Self.check(response, what: what)
            let body: ByteBuffer
            do {
                body = try await response.body.collect(upTo: maxManifestSize)
            } catch {
                throw UpstreamError(.invalidResponse, "\(what) (at most \(maxManifestSize) bytes a page): \(error)")
            }
            if count == 1 { remotePath = Self.remotePath(response.headers) }
            let goOn = try take(Array(body.readableBytesView))
            next = goOn ? response.headers.first(name: "Link").flatMap { LinkHeader.nextPage($0, path: path) } : nil
        }
        return (remotePath, next != nil)
    }

    private func manifestPath(_ repository: RepositoryName, _ reference: Reference) -> String {
        "/v2/\(repository.value)/manifests/\(reference)"
    }

    private static func digestOf(_ reference: Reference) -> String? {
        if case .digest(let d) = reference { return d.description }
        return nil
    }

    // MARK: Transport, auth and redirects

    /// One request on the wire, answered with its head: buffered or streamed.
    typealias Transport<Reply: UpstreamReply> = (
        _ method: HTTPMethod, _ url: String, _ accept: [String], _ headers: [(String, String)], _ authorization: String?
    ) async throws(UpstreamError) -> Reply

    private func send(
        _ method: HTTPMethod, _ path: String, accept: [String], via incoming: String?, headers extra: [(String, String)] = [],
        repository: RepositoryName
    ) async throws(UpstreamError) -> HTTPClientResponse {
        try await send(method, path, accept: accept, via: incoming, headers: extra, repository: repository, transport: execute)
    }

    private func send<Reply: UpstreamReply>(
        _ method: HTTPMethod, _ path: String, accept: [String], via incoming: String?, headers extra: [(String, String)] = [],
        repository: RepositoryName, transport: Transport<Reply>
    ) async throws(UpstreamError) -> Reply {
        var headers = extra
        if let via = via(incoming) { headers.append(("Via", via)) }
        let scope = "repository:\(repository.value):pull"
        var url = baseURL + path
        if let namespace { url += (path.contains("?") ? "&" : "?") + "ns=\(namespace)" }
        var authorization = await cachedAuthorization(scope: scope)
        var sentAuth = authorization != nil
        for attempt in 0..<2 {
            var response = try await transport(method, url, accept, headers, authorization)
            let elsewhere: Bool
            (response, elsewhere) = try await followRedirects(response, method: method, accept: accept, headers: headers, from: url,
                                                              authorization: authorization, transport: transport)
            // A blob host (a CDN's signed URL) that refuses: the URL expired or takes no
            // HEAD. The tier's own credentials were not at fault.
            if elsewhere, response.status == .unauthorized || response.status == .forbidden {
                let code = Int(response.status.code)
                await response.drain()
                throw UpstreamError(.serverError, status: code, "the blob host the tier redirected to answered \(code) (a signed URL refused or expired)")
            }
            let limit = response.headers.first(name: "ratelimit-limit"), remaining = response.headers.first(name: "ratelimit-remaining")
            if limit != nil || remaining != nil { rateLimitObserver?(limit, remaining) }
            guard response.status == .unauthorized, attempt == 0,
                  let header = response.headers.first(name: "WWW-Authenticate"),
                  let challenge = AuthChallenge(header: header) else { return response }
            // The answer goes back unread when there is nothing to retry with: its body
            // is the caller's to drain, and a body can be read only once.
            switch challenge.scheme {
            case .basic:
                guard !sentAuth, let credentials else { return response }
                await response.drain()
                authorization = credentials.basicAuthorization
            case .bearer:
                await response.drain()
                authorization = "Bearer " + (try await fetchToken(challenge, scope: challenge.scope ?? scope))
            }
            sentAuth = true
        }
        throw UpstreamError(.unauthorized, status: 401, "authentication failed")
    }

    private func requestHeaders(accept: [String], headers: [(String, String)], authorization: String?) -> HTTPHeaders {
        var out = HTTPHeaders()
        for type in accept { out.add(name: "Accept", value: type) }
        for (name, value) in headers + extraHeaders { out.add(name: name, value: value) }
        out.replaceOrAdd(name: "User-Agent", value: "strata/0.1")
        if let authorization { out.replaceOrAdd(name: "Authorization", value: authorization) }
        return out
    }

    private func executeStreamed(
        _ method: HTTPMethod, _ url: String, accept: [String], headers: [(String, String)], authorization: String?
    ) async throws(UpstreamError) -> StreamedReply {
        do {
            let request = try HTTPClient.Request(url: url, method: method,
                                                 headers: requestHeaders(accept: accept, headers: headers, authorization: authorization))
            return try await StreamedReply.execute(request, on: http, deadline: .now() + .hours(24), minimumRate: minimumRate)
        } catch {
            throw UpstreamError(.transport, "\(method) \(url): \(TransportErrorText.describe(error))", cause: error as? HTTPClientError)
        }
    }

    private func execute(
        _ method: HTTPMethod, _ url: String, accept: [String], headers: [(String, String)], authorization: String?
    ) async throws(UpstreamError) -> HTTPClientResponse {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers = requestHeaders(accept: accept, headers: headers, authorization: authorization)
        do {
            // Manifests, HEADs and redirects are small: two minutes is plenty, and bounds a drip.
            return try await http.execute(request, timeout: .seconds(120), logger: logger)
        } catch {
            throw UpstreamError(.transport, "\(method) \(url): \(TransportErrorText.describe(error))", cause: error as? HTTPClientError)
        }
    }

    /// Follows 301/302/303/307/308 up to 5 times. `Authorization` goes only to the same
    /// host. A `HEAD` is never sent to another host (a CDN's signed URLs refuse it): it
    /// becomes a `GET` of byte 0 there, whose `Content-Range` tells the size. Returns the
    /// last answer, and whether it came from another host than the tier's.
    private func followRedirects<Reply: UpstreamReply>(
        _ first: Reply, method: HTTPMethod, accept: [String], headers: [(String, String)],
        from origin: String, authorization: String?, transport: Transport<Reply>
    ) async throws(UpstreamError) -> (Reply, elsewhere: Bool) {
        var response = first
        let start = URL(string: origin)
        var current = start
        var method = method, headers = headers
        func isElsewhere() -> Bool {
            current?.host != start?.host || current?.port != start?.port || current?.scheme != start?.scheme
        }
        for hop in 0...5 {
            guard [301, 302, 303, 307, 308].contains(response.status.code),
                  let location = response.headers.first(name: "Location") else { return (response, isElsewhere()) }
            await response.drain()
            guard hop < 5 else { throw UpstreamError(.redirectRefused, status: Int(response.status.code), "more than 5 redirects") }
            guard location.utf8.count <= 8192, let next = URL(string: location, relativeTo: current)?.absoluteURL else {
                throw UpstreamError(.redirectRefused, status: Int(response.status.code), "unusable Location")
            }
            if case .refuse(let reason) = await RedirectPolicy.check(origin: await originClasses(), to: next) {
                logger.warning("upstream redirect refused", metadata: ["from": "\(origin)", "to": "\(Self.redacted(next))", "reason": "\(reason)"])
                throw UpstreamError(.redirectRefused, status: Int(response.status.code), "redirect to \(Self.redacted(next)) refused: \(reason)")
            }
            let sameHost = next.host == current?.host && next.port == current?.port && next.scheme == current?.scheme
            if method == .HEAD && !sameHost {
                method = .GET
                headers = headers.filter { $0.0.lowercased() != "range" } + [("Range", "bytes=0-0")]
            }
            response = try await transport(method, next.absoluteString, accept, headers, sameHost ? authorization : nil)
            current = next
        }
        return (response, isElsewhere())
    }

    /// The address classes of this upstream's own host, resolved once: every blob behind a
    /// CDN is redirected, and the tier's host does not move between public and private.
    private func originClasses() async -> [IPAddressClass] {
        if let known = resolvedOrigin.withLockedValue({ $0 }) { return known }
        guard let host = URL(string: baseURL)?.host else { return [] }
        let resolved = await RedirectPolicy.classes(of: host)
        // An origin that did not resolve is asked again next time.
        if !resolved.isEmpty { resolvedOrigin.withLockedValue { $0 = resolved } }
        return resolved
    }

    /// A redirect target for logs and the ledger: scheme, host and path, without the
    /// query (signed URLs carry credentials there).
    static func redacted(_ url: URL) -> String {
        "\(url.scheme ?? "")://\(url.host ?? "")\(url.port.map { ":\($0)" } ?? "")\(url.path)"
    }

    private func cachedAuthorization(scope: String) async -> String? {
        guard let known = await challenge.current else {
            return nil
        }
        switch known.scheme {
        case .basic:
            return credentials?.basicAuthorization
        case .bearer:
            let key = TokenCache.Key(realm: known.realm ?? "", service: known.service ?? "", scope: scope)
            if let token = await tokens.token(for: key, now: now()) { return "Bearer " + token }
            // The realm is known: get the token now rather than after another 401.
            return try? await "Bearer " + fetchToken(known, scope: scope)
        }
    }

    private func fetchToken(_ challenge: AuthChallenge, scope: String) async throws(UpstreamError) -> String {
        await self.challenge.remember(challenge)
        guard challenge.scheme == .bearer, let realm = challenge.realm, var components = URLComponents(string: realm) else {
            throw UpstreamError(.unauthorized, status: 401, "unusable challenge")
        }
        let key = TokenCache.Key(realm: realm, service: challenge.service ?? "", scope: scope)
        if let token = await tokens.token(for: key, now: now()) { return token }
        var query = components.queryItems ?? []
        if let service = challenge.service { query.append(URLQueryItem(name: "service", value: service)) }
        query.append(URLQueryItem(name: "scope", value: scope))
        components.queryItems = query
        guard let url = components.string, let realmURL = URL(string: url) else {
            throw UpstreamError(.unauthorized, "bad token realm \(PrintableText.make(realm, limit: 200))")
        }
        // The realm is a URL an upstream named: it goes where a redirect may go, no further.
        if case .refuse(let reason) = await RedirectPolicy.check(origin: await originClasses(), to: realmURL) {
            logger.warning("token realm refused", metadata: ["tier": "\(baseURL)", "realm": "\(Self.redacted(realmURL))", "reason": "\(reason)"])
            throw UpstreamError(.redirectRefused, status: 401, "token realm \(Self.redacted(realmURL)) refused: \(reason)")
        }
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "User-Agent", value: "strata/0.1")
        // The tier's password goes to its own realm only; elsewhere the token is asked for anonymously.
        if let credentials, credentials.mayAuthenticate(at: realmURL, for: URL(string: baseURL)) {
            request.headers.add(name: "Authorization", value: credentials.basicAuthorization)
        }
        let body: ByteBuffer
        let status: HTTPResponseStatus
        do {
            let response = try await http.execute(request, timeout: .seconds(30), logger: logger)
            status = response.status
            body = try await response.body.collect(upTo: maxTokenSize)
        } catch {
            throw UpstreamError(.transport, "token realm \(Self.redacted(realmURL)): \(TransportErrorText.describe(error))", cause: error as? HTTPClientError)
        }
        guard status == .ok else {
            throw UpstreamError(.unauthorized, status: Int(status.code), "token realm \(Self.redacted(realmURL)) answered \(status.code)")
        }
        guard let answer = TokenAnswer(parsing: Array(body.readableBytesView)) else {
            throw UpstreamError(.unauthorized, "token realm \(Self.redacted(realmURL)) sent no usable token")
        }
        await tokens.store(answer.token, for: key, expiresIn: answer.expiresIn, now: now())
        return answer.token
    }

    /// Maps a non-success status to an error, reading the error body for `*_UNKNOWN`.
    private static func check(_ response: some UpstreamReply, what: String) async throws(UpstreamError) {
        let code = Int(response.status.code)
        if (200..<300).contains(code) { return }
        await response.drain()
        switch code {
        case 404: throw UpstreamError(.notFound, status: code, "\(what) not found")
        case 401, 403: throw UpstreamError(.unauthorized, status: code, "\(what): access denied")
        case 508: throw UpstreamError(.loop, status: code, "\(what): the tier refused a mirror loop")
        case 503 where response.headers.first(name: UpstreamFailedHeader.name) != nil:
            // A Strata tier that works, whose own tiers failed: its words are an upstream's, kept short and printable.
            let chain = PrintableText.make(response.headers.first(name: UpstreamFailedHeader.name) ?? "", limit: 300)
            throw UpstreamError(.upstreamFailed, status: code, chain)
        case 429:
            let retry = response.headers.first(name: "Retry-After").flatMap { HeaderNumbers.retryAfter($0, now: Date()) }
            throw UpstreamError(.rateLimited, status: code, "\(what): too many requests", retryAfter: retry)
        default: throw UpstreamError(.serverError, status: code, "\(what): upstream answered \(code)")
        }
    }

}

/// The last auth challenge an upstream sent, so later requests can authenticate up front.
actor ChallengeMemory {
    private(set) var current: AuthChallenge?
    func remember(_ challenge: AuthChallenge) { current = challenge }
}

public struct UpstreamManifestHead: Sendable {
    public let digest: Digest
    public let mediaType: String
    public let size: Int64?
    /// The tiers a Strata upstream reported for its answer.
    public let remotePath: [String]

    public init(digest: Digest, mediaType: String, size: Int64?, remotePath: [String] = []) {
        self.digest = digest
        self.mediaType = mediaType
        self.size = size
        self.remotePath = remotePath
    }
}

public struct UpstreamManifest: Sendable {
    public let bytes: [UInt8]
    public let mediaType: String
    public let digestHeader: Digest?
    public let remotePath: [String]

    public init(bytes: [UInt8], mediaType: String, digestHeader: Digest?, remotePath: [String] = []) {
        self.bytes = bytes
        self.mediaType = mediaType
        self.digestHeader = digestHeader
        self.remotePath = remotePath
    }
}

/// A blob response whose body is still to be read.
public struct UpstreamBlob: Sendable {
    /// Size of the whole blob, when the upstream said.
    public let totalSize: Int64?
    /// Where this body starts in the blob.
    public let offset: Int64
    public let body: any BlobStream
    public let remotePath: [String]
    /// The source said it serves byte ranges of this blob (`Accept-Ranges: bytes`, or a `206`).
    public let acceptsRanges: Bool

    public init(totalSize: Int64?, offset: Int64, body: any BlobStream, remotePath: [String], acceptsRanges: Bool = false) {
        self.totalSize = totalSize
        self.offset = offset
        self.body = body
        self.remotePath = remotePath
        self.acceptsRanges = acceptsRanges
    }
}
