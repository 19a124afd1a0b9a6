import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import StrataCore

/// An in-process registry for faults and hostile answers a real server won't produce on
/// demand: bytes that don't match the digest, bodies cut short, lying lengths, drips,
/// redirects anywhere, Basic auth, manifests that are not manifests.
public final class FaultyRegistry: @unchecked Sendable {
    public enum Fault: Sendable {
        /// Serve the blob with one byte changed: same size, wrong digest.
        case wrongBytes
        /// Announce the full size, send `bytes` of it, then close the connection.
        case truncate(after: Int)
        /// Serve correctly.
        case none
        /// Answer blob requests (`GET` and `HEAD`) with 307 to the same path on `url` (a CDN).
        case redirect(to: String)
        /// Answer every request but `/v2/` with this status (429 with `Retry-After`, 500, ...);
        /// a 429 says `ratelimit-remaining: 0;w=21600`.
        case status(Int, retryAfter: String?)
        /// Announce `Content-Length: length` for blobs, send the real bytes, then cut the connection.
        case lyingLength(Int64)
        /// Send blob bodies `bytes` at a time with `interval` between writes.
        case drip(bytes: Int, interval: Duration)
        /// Answer blob requests with 307 to exactly `location`.
        case redirectLocation(String)
        /// Want a bearer token from `realm` (401 with that challenge) for every request but
        /// `/v2/` and `/token`; `/token` hands out the one token this registry takes.
        case bearerChallenge(realm: String)
    }

    /// The token `/token` hands out under ``Fault/bearerChallenge(realm:)``.
    public static let bearerToken = "faulty-token"

    public let port: Int
    public var url: String { "http://127.0.0.1:\(port)" }
    private var task: Task<Void, any Error>?
    private var group: ServiceGroup?
    private let blobs: [Digest: [UInt8]]
    private let manifests: [String: (contentType: String, bytes: [UInt8])]
    private let referrers: [Digest: [UInt8]]
    private let fault: Fault
    private let counter = RequestLog()
    private let seen = HeaderLog()
    /// When set, requests without this Basic login get a 401 Basic challenge.
    private let login: (String, String)?

    /// `manifests`: reference (tag or digest) → what `GET .../manifests/<reference>`
    /// answers, with `Docker-Content-Digest` set to the digest of those bytes.
    /// `referrers`: subject → what `GET .../referrers/<subject>` answers (others: 404).
    public init(blobs: [Digest: [UInt8]] = [:], manifests: [String: (contentType: String, bytes: [UInt8])] = [:],
                referrers: [Digest: [UInt8]] = [:], fault: Fault, requireBasic login: (String, String)? = nil, port: Int? = nil) {
        self.referrers = referrers
        self.port = port ?? FreePort.next()
        self.blobs = blobs
        self.manifests = manifests
        self.fault = fault
        self.login = login
    }

    /// The `Authorization` header of every request, in order (nil when absent).
    public var authorizations: [String?] { seen.values }

    /// Requests served so far.
    public var requestCount: Int { counter.count }

    public func start() async throws {
        let responder = CallbackResponder<BasicRequestContext> { [self] request, _ in answer(request) }
        var logger = Logger(label: "faulty-registry")
        logger.logLevel = .critical
        let app = Application(responder: responder, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: logger)
        // Run in a service group, so that stop() can shut it down gracefully: cancelling a
        // Hummingbird server with a keep-alive connection open can trap in NIO
        // ("Deinited NIOAsyncWriter without calling finish()").
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        self.group = group
        task = Task { try await group.run() }
        try await waitUntilAnswering("\(url)/v2/")
    }

    /// The answer to one request: auth, the status fault, manifests, then blobs.
    private func answer(_ request: Request) -> Response {
        let blobs = self.blobs, manifests = self.manifests, referrers = self.referrers, fault = self.fault, login = self.login
        counter.add()
        seen.add(request.headers[.authorization])
        if let (user, password) = login {
            let expected = "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
            if request.headers[.authorization] != expected {
                var headers = HTTPFields()
                headers[.wwwAuthenticate] = "Basic realm=\"faulty\""
                return Response(status: .unauthorized, headers: headers)
            }
        }
        let path = request.uri.path
        if case .bearerChallenge(let realm) = fault {
            if path == "/token" {
                var headers = HTTPFields()
                headers[.contentType] = "application/json"
                return Response(status: .ok, headers: headers,
                                body: .init(byteBuffer: ByteBuffer(string: #"{"token":"\#(Self.bearerToken)","expires_in":300}"#)))
            }
            if path != "/v2/", request.headers[.authorization] != "Bearer \(Self.bearerToken)" {
                var headers = HTTPFields()
                headers[.wwwAuthenticate] = #"Bearer realm="\#(realm)",service="faulty""#
                return Response(status: .unauthorized, headers: headers)
            }
        }
        if case .status(let code, let retryAfter) = fault, path != "/v2/" {
            var headers = HTTPFields()
            if let retryAfter { headers[.retryAfter] = retryAfter }
            // As Docker Hub answers a pull over its limit: none left in the window.
            if code == 429 {
                headers[HTTPField.Name("ratelimit-remaining")!] = "0;w=21600"
                headers[HTTPField.Name("ratelimit-limit")!] = "100;w=21600"
            }
            return Response(status: .init(code: code), headers: headers)
        }
        if let range = path.range(of: "/referrers/") {
            guard let subject = try? Digest(parsing: String(path[range.upperBound...])), let index = referrers[subject] else {
                return Response(status: .notFound)
            }
            var headers = HTTPFields()
            headers[.contentType] = MediaType.ociIndex.value
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: index)))
        }
        if let range = path.range(of: "/manifests/"), let manifest = manifests[String(path[range.upperBound...])] {
            var headers = HTTPFields()
            headers[.contentType] = manifest.contentType
            headers[.contentLength] = String(manifest.bytes.count)
            headers[HTTPField.Name("Docker-Content-Digest")!] = ContentHasher.digest(of: manifest.bytes).description
            if request.method == .head { return Response(status: .ok, headers: headers, body: .init()) }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: manifest.bytes)))
        }
        guard let range = path.range(of: "/blobs/"), let digest = try? Digest(parsing: String(path[range.upperBound...])),
              let bytes = blobs[digest] else {
            return Response(status: path == "/v2/" ? .ok : .notFound)
        }
        var headers = HTTPFields()
        headers[.contentType] = "application/octet-stream"
        headers[.contentLength] = String(bytes.count)
        if case .lyingLength(let length) = fault { headers[.contentLength] = String(length) }
        // Registries behind a CDN redirect HEADs as well.
        switch fault {
        case .redirect, .redirectLocation: break
        default: if request.method == .head { return Response(status: .ok, headers: headers, body: .init()) }
        }
        return blobAnswer(request, bytes: bytes, headers: headers)
    }

    /// A blob's answer, as the fault shapes it.
    private func blobAnswer(_ request: Request, bytes: [UInt8], headers: HTTPFields) -> Response {
        var headers = headers
        let fault = self.fault, path = request.uri.path
        switch fault {
        case .status:
            return Response(status: .internalServerError)
        case .lyingLength(let length):
            headers[.contentLength] = String(length)
            return Response(status: .ok, headers: headers, body: ResponseBody(contentLength: Int(length)) { writer in
                try await writer.write(ByteBuffer(bytes: bytes))
                throw TestSupportError("cut short on purpose")
            })
        case .drip(let size, let interval):
            return Response(status: .ok, headers: headers, body: ResponseBody(contentLength: bytes.count) { writer in
                var offset = 0
                while offset < bytes.count {
                    let end = min(bytes.count, offset + size)
                    try await writer.write(ByteBuffer(bytes: bytes[offset..<end]))
                    offset = end
                    try await Task.sleep(for: interval)
                }
                try await writer.finish(nil)
            })
        case .redirectLocation(let location):
            var redirect = HTTPFields()
            redirect[.location] = location
            return Response(status: .temporaryRedirect, headers: redirect)
        case .redirect(let target):
            var redirect = HTTPFields()
            redirect[.location] = target + path
            return Response(status: .temporaryRedirect, headers: redirect)
        case .none, .bearerChallenge:
            // `Range: bytes=N-`, as a fill resuming on this tier sends it.
            if let range = request.headers[.range], range.hasPrefix("bytes="), range.hasSuffix("-"),
               let from = Int(range.dropFirst(6).dropLast()), from < bytes.count {
                headers[.contentLength] = String(bytes.count - from)
                headers[.contentRange] = "bytes \(from)-\(bytes.count - 1)/\(bytes.count)"
                return Response(status: .partialContent, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes[from...])))
            }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        case .wrongBytes:
            var bad = bytes
            bad[bad.count / 2] ^= 0xff
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bad)))
        case .truncate(let after):
            let prefix = Array(bytes.prefix(after))
            return Response(status: .ok, headers: headers, body: ResponseBody(contentLength: bytes.count) { writer in
                try await writer.write(ByteBuffer(bytes: prefix))
                throw TestSupportError("cut short on purpose")
            })
        }
    }

    /// Starts a graceful shutdown and returns at once (for `defer`).
    public func stop() {
        guard let group else { return }
        Task { await group.triggerGracefulShutdown() }
    }

    /// Shuts down and returns once the port is closed.
    public func shutdown() async {
        guard let group else { return }
        await group.triggerGracefulShutdown()
        _ = try? await task?.value
    }
}

final class HeaderLog: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String?] = []
    func add(_ value: String?) { lock.lock(); list.append(value); lock.unlock() }
    var values: [String?] { lock.lock(); defer { lock.unlock() }; return list }
}
