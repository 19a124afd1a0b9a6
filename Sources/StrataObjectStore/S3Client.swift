import AsyncHTTPClient
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import StrataCore
import StrataUpstream

/// A client for one bucket of an S3-compatible object store (AWS S3, Ceph RGW, MinIO,
/// R2...): the handful of calls a content store needs, signed with ``SignatureV4``.
///
/// Every body is sent with its `Content-Length` and its SHA-256 signed as the payload
/// hash, so the store itself refuses bytes changed on the way.
public final class S3Client: Sendable {
    public struct Configuration: Sendable {
        /// `http://host:port` or `https://host`: where the store listens.
        public var endpoint: String
        public var bucket: String
        public var region: String
        public var accessKey: String
        public var secretKey: String
        /// `endpoint/bucket/key` (the default) rather than `bucket.endpoint/key`.
        public var pathStyle: Bool

        public init(endpoint: String, bucket: String, region: String = "us-east-1", accessKey: String, secretKey: String, pathStyle: Bool = true) {
            self.endpoint = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
            self.bucket = bucket
            self.region = region
            self.accessKey = accessKey
            self.secretKey = secretKey
            self.pathStyle = pathStyle
        }
    }

    /// What `HEAD` says of an object.
    public struct Object: Sendable, Equatable {
        public let size: Int64
        public let contentType: String?
        public let etag: String?
    }

    public let configuration: Configuration
    private let http: HTTPClient
    private let signer: SignatureV4
    private let now: @Sendable () -> Date
    /// When the store last failed to answer (no connection, 5xx) and last answered.
    private let health = NIOLockedValueBox<(failed: Date?, answered: Date?)>((nil, nil))
    /// Who hears of every request (the metrics).
    private let observer = NIOLockedValueBox<(@Sendable (Exchange) -> Void)?>(nil)

    /// One request to the store, for the metrics.
    public struct Exchange: Sendable {
        /// `GET`, `HEAD`, `PUT`, `DELETE`, `POST`.
        public let method: String
        /// `ok`, `not_found`, `precondition_failed`, `denied`, `client_error`, `server_error`, `transport`.
        public let outcome: String
        public let seconds: Double
        /// Body bytes sent to the store, and those it announced in its answer.
        public let sent: Int64
        public let received: Int64
    }

    /// Sets who hears of every request.
    public func observe(_ observer: @escaping @Sendable (Exchange) -> Void) {
        self.observer.withLockedValue { $0 = observer }
    }

    /// After a failure, the store counts as unavailable for this long, unless it answers.
    static let unavailableFor: TimeInterval = 5

    /// False while the store is known to fail: it failed within the last few seconds
    /// and has not answered since. Callers skip it rather than wait for it.
    public var isAvailable: Bool {
        let (failed, answered) = health.withLockedValue { $0 }
        guard let failed else { return true }
        if let answered, answered > failed { return true }
        return now().timeIntervalSince(failed) > Self.unavailableFor
    }

    /// The largest XML or small object answer read into memory.
    public static let maxSmallAnswer = 8 << 20

    public init(_ configuration: Configuration, http: HTTPClient, now: @escaping @Sendable () -> Date = Date.init) {
        self.configuration = configuration
        self.http = http
        self.signer = SignatureV4(accessKey: configuration.accessKey, secretKey: configuration.secretKey, region: configuration.region)
        self.now = now
    }

    // MARK: Objects

    /// `HEAD`: the object's size, type and ETag; nil when there is none.
    public func head(_ key: String) async throws(ObjectStoreError) -> Object? {
        let response = try await send(.HEAD, key: key)
        if response.status == .notFound { return nil }
        try await Self.check(response, "HEAD \(key)")
        guard let size = response.headers.first(name: "Content-Length").flatMap(HeaderNumbers.contentLength) else {
            throw .invalidResponse(status: Int(response.status.code), "HEAD \(key): no usable Content-Length")
        }
        return Object(size: size, contentType: response.headers.first(name: "Content-Type"), etag: Self.etag(response.headers))
    }

    /// `GET` of a small object (a tag record, a manifest), whole; nil when there is none.
    public func get(_ key: String, maxSize: Int = maxSmallAnswer) async throws(ObjectStoreError) -> (bytes: [UInt8], object: Object)? {
        let response = try await send(.GET, key: key)
        if response.status == .notFound { await Self.drain(response); return nil }
        try await Self.check(response, "GET \(key)")
        let body = try await Self.collect(response, upTo: maxSize, "GET \(key)")
        return (Array(body.readableBytesView), Object(size: Int64(body.readableBytes), contentType: response.headers.first(name: "Content-Type"),
                                                      etag: Self.etag(response.headers)))
    }

    /// `GET` of bytes `range` of an object, streamed: the caller reads the body. nil when
    /// there is no such object.
    public func getRange(_ key: String, _ range: Range<Int64>) async throws(ObjectStoreError) -> HTTPClientResponse? {
        guard !range.isEmpty else { throw .invalidResponse(status: nil, "GET \(key): empty range") }
        let response = try await send(.GET, key: key, headers: [("Range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)")])
        if response.status == .notFound { await Self.drain(response); return nil }
        try await Self.check(response, "GET \(key)")
        guard response.status == .partialContent || (response.status == .ok && range.lowerBound == 0) else {
            await Self.drain(response)
            throw .invalidResponse(status: Int(response.status.code), "GET \(key): range not honoured")
        }
        return response
    }

    /// `GET` of bytes `range` of an object, its body handed part by part to a sink on the
    /// event loop that receives it (``StreamedReply``: no task hop per part, which the
    /// async body of ``getRange(_:_:)`` costs). Throws when there is no such object.
    public func getStreamed(_ key: String, _ range: Range<Int64>) async throws(ObjectStoreError) -> StreamedReply {
        guard !range.isEmpty else { throw .invalidResponse(status: nil, "GET \(key): empty range") }
        let (url, path, signed) = sign(.GET, key: key, query: [], headers: [("Range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)")], body: nil)
        let start = ContinuousClock.now
        let reply: StreamedReply
        do {
            let request = try HTTPClient.Request(url: url, method: .GET, headers: HTTPHeaders(signed))
            reply = try await StreamedReply.execute(request, on: http, deadline: .now() + .hours(24))
        } catch {
            let time = now()
            health.withLockedValue { $0.failed = time }
            report(.GET, "transport", start, sent: 0, received: 0)
            throw .unavailable(status: nil, "GET \(path): \(error)", cause: error as? HTTPClientError)
        }
        let code = Int(reply.status.code)
        let time = now()
        health.withLockedValue { code >= 500 ? ($0.failed = time) : ($0.answered = time) }
        report(.GET, Self.outcome(reply.status.code), start, sent: 0, received: code < 300 ? range.upperBound - range.lowerBound : 0)
        let length = reply.headers.first(name: "Content-Length").flatMap(HeaderNumbers.contentLength)
        guard reply.status == .partialContent || (reply.status == .ok && range.lowerBound == 0) else {
            await reply.drain()
            if reply.status == .notFound { throw .invalidResponse(status: 404, "GET \(key): no such object") }
            if code >= 500 { throw .unavailable(status: code, "GET \(key): \(code)", cause: nil) }
            if code == 401 || code == 403 { throw .denied(status: code, "GET \(key): \(code)") }
            throw .invalidResponse(status: code, "GET \(key): range not honoured (\(code))")
        }
        guard length == range.upperBound - range.lowerBound else {
            await reply.drain()
            throw .invalidResponse(status: code, "GET \(key): \(length.map(String.init) ?? "no") bytes for a range of \(range.upperBound - range.lowerBound)")
        }
        return reply
    }

    /// `PUT` of a whole object. With `createOnly`, the write happens only if no object
    /// has the key (`If-None-Match: *`); otherwise it throws a precondition failure.
    /// Returns the new ETag.
    @discardableResult
    public func put(_ key: String, _ body: ByteBuffer, contentType: String = "application/octet-stream", createOnly: Bool = false,
                    ifMatch etag: String? = nil) async throws(ObjectStoreError) -> String? {
        var headers = [("Content-Type", contentType)]
        if createOnly { headers.append(("If-None-Match", "*")) }
        // Ceph RGW compares the ETag as stored, without the quotes S3 answers with.
        if let etag { headers.append(("If-Match", etag.trimmingCharacters(in: CharacterSet(charactersIn: "\"")))) }
        let response = try await send(.PUT, key: key, headers: headers, body: body)
        try await Self.check(response, "PUT \(key)")
        await Self.drain(response)
        return Self.etag(response.headers)
    }

    /// `DELETE`: gone afterwards, whether it was there or not.
    public func delete(_ key: String) async throws(ObjectStoreError) {
        let response = try await send(.DELETE, key: key)
        if response.status == .notFound { await Self.drain(response); return }
        try await Self.check(response, "DELETE \(key)")
        await Self.drain(response)
    }

    /// One page of keys under `prefix` (ListObjectsV2).
    public func list(prefix: String, continuation: String? = nil, maxKeys: Int = 1000) async throws(ObjectStoreError) -> S3XML.ListPage {
        var query = [("list-type", "2"), ("prefix", prefix), ("max-keys", "\(maxKeys)")]
        if let continuation { query.append(("continuation-token", continuation)) }
        let response = try await send(.GET, key: nil, query: query)
        try await Self.check(response, "list \(prefix)")
        let body = try await Self.collect(response, upTo: Self.maxSmallAnswer, "list \(prefix)")
        guard let page = S3XML.listPage(Array(body.readableBytesView)) else {
            throw .invalidResponse(status: Int(response.status.code), "list \(prefix): not a ListBucketResult")
        }
        return page
    }

    /// Every key under `prefix`, all pages.
    public func listAll(prefix: String) async throws(ObjectStoreError) -> [String] {
        try await listEntries(prefix: prefix).map(\.key)
    }

    /// Every object under `prefix` with its size and time, all pages.
    public func listEntries(prefix: String) async throws(ObjectStoreError) -> [S3XML.Entry] {
        var entries: [S3XML.Entry] = []
        var token: String? = nil
        repeat {
            let page = try await list(prefix: prefix, continuation: token)
            entries += page.entries
            token = page.nextToken
        } while token != nil
        return entries
    }

    /// Creates the bucket; one that exists already is fine.
    public func createBucket() async throws(ObjectStoreError) {
        let response = try await send(.PUT, key: nil)
        if response.status == .conflict { await Self.drain(response); return }
        try await Self.check(response, "create bucket \(configuration.bucket)")
        await Self.drain(response)
    }

    // MARK: Multipart

    /// Starts a multipart upload; returns its id.
    public func createUpload(_ key: String, contentType: String = "application/octet-stream") async throws(ObjectStoreError) -> String {
        let response = try await send(.POST, key: key, query: [("uploads", "")], headers: [("Content-Type", contentType)])
        try await Self.check(response, "start upload \(key)")
        let body = try await Self.collect(response, upTo: 1 << 20, "start upload \(key)")
        guard let id = S3XML.value(of: "UploadId", in: Array(body.readableBytesView)), !id.isEmpty else {
            throw .invalidResponse(status: Int(response.status.code), "start upload \(key): no UploadId")
        }
        return id
    }

    /// Uploads part `number` (1...10000); returns its ETag.
    public func uploadPart(_ key: String, uploadID: String, number: Int, _ body: ByteBuffer) async throws(ObjectStoreError) -> String {
        let response = try await send(.PUT, key: key, query: [("partNumber", "\(number)"), ("uploadId", uploadID)], body: body)
        try await Self.check(response, "upload part \(number) of \(key)")
        await Self.drain(response)
        guard let etag = Self.etag(response.headers) else { throw .invalidResponse(status: Int(response.status.code), "part \(number) of \(key): no ETag") }
        return etag
    }

    /// Completes an upload from its parts' ETags, in order.
    public func completeUpload(_ key: String, uploadID: String, etags: [String]) async throws(ObjectStoreError) {
        let parts = etags.enumerated().map { "<Part><PartNumber>\($0.offset + 1)</PartNumber><ETag>\($0.element)</ETag></Part>" }.joined()
        let xml = ByteBuffer(string: "<CompleteMultipartUpload>\(parts)</CompleteMultipartUpload>")
        let response = try await send(.POST, key: key, query: [("uploadId", uploadID)], headers: [("Content-Type", "application/xml")], body: xml)
        try await Self.check(response, "complete upload \(key)")
        // A 200 may still carry an error in its body.
        let body = try await Self.collect(response, upTo: 1 << 20, "complete upload \(key)")
        if let code = S3XML.value(of: "Code", in: Array(body.readableBytesView)) {
            throw .unavailable(status: 200, "complete upload \(key): \(code)")
        }
    }

    /// Abandons an upload; its parts are dropped.
    public func abortUpload(_ key: String, uploadID: String) async {
        if let response = try? await send(.DELETE, key: key, query: [("uploadId", uploadID)]) { await Self.drain(response) }
    }

    // MARK: Requests

    /// The request's URL and the path that is signed.
    private func target(_ key: String?) -> (url: String, path: String, host: String) {
        let bucket = configuration.bucket
        let keyPath = key.map { "/" + $0 } ?? "/"
        guard let base = URL(string: configuration.endpoint), let host = base.host else {
            return ("\(configuration.endpoint)/\(bucket)\(keyPath)", "/\(bucket)\(keyPath)", "")
        }
        let hostHeader = base.port.map { "\(host):\($0)" } ?? host
        if configuration.pathStyle {
            let path = "/\(bucket)" + (key.map { "/" + $0 } ?? "")
            return ("\(configuration.endpoint)\(SignatureV4.encode(path, keepSlash: true))", path, hostHeader)
        }
        let scheme = base.scheme ?? "https"
        let virtualHost = "\(bucket).\(hostHeader)"
        return ("\(scheme)://\(virtualHost)\(SignatureV4.encode(keyPath, keepSlash: true))", keyPath, virtualHost)
    }

    /// The URL (with its query), the path signed, and the headers with the signature.
    private func sign(
        _ method: HTTPMethod, key: String?, query: [(String, String)], headers: [(String, String)], body: ByteBuffer?
    ) -> (url: String, path: String, headers: [(String, String)]) {
        let (url, path, host) = target(key)
        let payloadHash: String
        if let body { payloadHash = SignatureV4.sha256Hex(buffer: body) } else { payloadHash = SignatureV4.emptyPayloadHash }
        let signed = signer.sign(method: method.rawValue, path: path, query: query,
                                 headers: headers + [("Host", host), ("x-amz-content-sha256", payloadHash)],
                                 payloadHash: payloadHash, date: now())
        let queryString = query.map { "\(SignatureV4.encode($0.0, keepSlash: false))=\(SignatureV4.encode($0.1, keepSlash: false))" }
            .joined(separator: "&")
        return (queryString.isEmpty ? url : "\(url)?\(queryString)", path, signed)
    }

    private func send(
        _ method: HTTPMethod, key: String?, query: [(String, String)] = [], headers: [(String, String)] = [], body: ByteBuffer? = nil
    ) async throws(ObjectStoreError) -> HTTPClientResponse {
        let (url, path, signed) = sign(method, key: key, query: query, headers: headers, body: body)
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in signed { request.headers.replaceOrAdd(name: name, value: value) }
        if let body { request.body = .bytes(body) }
        let start = ContinuousClock.now
        let sent = Int64(body?.readableBytes ?? 0)
        do {
            let response = try await http.execute(request, timeout: .seconds(method == .PUT ? 300 : 60))
            let time = now()
            health.withLockedValue { response.status.code >= 500 ? ($0.failed = time) : ($0.answered = time) }
            let received = method == .HEAD ? 0 : response.headers.first(name: "Content-Length").flatMap(HeaderNumbers.contentLength) ?? 0
            report(method, Self.outcome(response.status.code), start, sent: sent, received: received)
            return response
        } catch {
            let time = now()
            health.withLockedValue { $0.failed = time }
            report(method, "transport", start, sent: 0, received: 0)
            throw .unavailable(status: nil, "\(method) \(path): \(error)", cause: error as? HTTPClientError)
        }
    }

    private func report(_ method: HTTPMethod, _ outcome: String, _ start: ContinuousClock.Instant, sent: Int64, received: Int64) {
        guard let observer = observer.withLockedValue({ $0 }) else { return }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        observer(Exchange(method: method.rawValue, outcome: outcome, seconds: seconds, sent: sent, received: received))
    }

    private static func outcome(_ status: UInt) -> String {
        switch status {
        case 200..<300: "ok"
        case 404: "not_found"
        case 412: "precondition_failed"
        case 401, 403: "denied"
        case 500...: "server_error"
        default: "client_error"
        }
    }

    private static func check(_ response: HTTPClientResponse, _ what: String) async throws(ObjectStoreError) {
        let status = Int(response.status.code)
        guard !(200..<300).contains(status) else { return }
        let body = (try? await response.body.collect(upTo: 64 << 10)).map { Array($0.readableBytesView) } ?? []
        let code = S3XML.value(of: "Code", in: body) ?? ""
        switch status {
        case 412: throw .preconditionFailed("\(what): precondition failed")
        case 401, 403: throw .denied(status: status, "\(what): \(code.isEmpty ? "denied" : code)")
        case 400 where ["XAmzContentSHA256Mismatch", "BadDigest"].contains(code): throw .badDigest("\(what): \(code)")
        case 500...: throw .unavailable(status: status, "\(what): \(code.isEmpty ? "server error" : code)")
        default: throw .invalidResponse(status: status, "\(what): \(code.isEmpty ? "unexpected answer" : code)")
        }
    }

    private static func collect(_ response: HTTPClientResponse, upTo limit: Int, _ what: String) async throws(ObjectStoreError) -> ByteBuffer {
        do {
            return try await response.body.collect(upTo: limit)
        } catch let error as NIOTooManyBytesError {
            throw .tooLarge(status: Int(response.status.code), "\(what): body over \(limit) bytes (\(error))")
        } catch {
            throw .unavailable(status: Int(response.status.code), "\(what): body: \(error)")
        }
    }

    private static func drain(_ response: HTTPClientResponse) async {
        _ = try? await response.body.collect(upTo: 1 << 20)
    }

    private static func etag(_ headers: HTTPHeaders) -> String? {
        headers.first(name: "ETag").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
    }
}
