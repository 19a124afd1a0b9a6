import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOHTTP1
import StrataConfig

/// Options shared by the commands that read the admin API.
struct AdminOptions: ParsableArguments {
    @Option(name: .long, help: "The admin server's URL (http:// when given as host:port). Default: $STRATA_ADMIN, else the admin_listen of --config, else http://127.0.0.1:5050.")
    var admin: String?

    @Option(name: .long, help: "The server's YAML config: its admin_listen, admin token file and TLS say where and how to reach the admin port.")
    var config: String?

    @Option(name: .customLong("token-file"), help: "A file holding the admin bearer token.")
    var tokenFile: String?

    @Option(name: .long, help: "PEM certificates to trust for an https admin server (a private CA).")
    var cacert: String?

    /// The admin URL, from `--admin`, `STRATA_ADMIN`, or `--config`'s `admin_listen`.
    private(set) var url = "http://127.0.0.1:5050"

    mutating func validate() throws {
        if let admin {
            url = admin
        } else if let env = ProcessInfo.processInfo.environment["STRATA_ADMIN"], !env.isEmpty {
            url = env
        } else if let config {
            let settings: StrataConfiguration
            do {
                settings = try StrataConfiguration.load(path: config)
            } catch {
                throw ArgumentParser.ValidationError("\(error)")
            }
            guard let listen = settings.adminListen else { throw ArgumentParser.ValidationError("\(config) turns the admin port off (admin_listen: off)") }
            url = (settings.tlsCertificate != nil ? "https://" : "http://") + Self.reachable(listen)
            if tokenFile == nil { tokenFile = settings.adminTokenFile }
        }
        if !url.contains("://") { url = "http://" + url }
        while url.hasSuffix("/") { url.removeLast() }
    }

    /// A listen address as a client reaches it: a wildcard host means this machine.
    static func reachable(_ listen: String) -> String {
        for wildcard in ["0.0.0.0:", "[::]:", ":"] where listen.hasPrefix(wildcard) {
            return (wildcard == "[::]:" ? "[::1]:" : "127.0.0.1:") + listen.dropFirst(wildcard.count)
        }
        return listen
    }

    /// A one-line error for an `--admin` that is not a server's URL.
    func checkAdminURL() throws {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), scheme == "http" || scheme == "https",
              parsed.host?.isEmpty == false, parsed.path.isEmpty, parsed.query == nil else {
            throw CommandFailure("--admin must be a URL like http://127.0.0.1:5050, not \"\(url)\"")
        }
    }
}

/// Reads the admin API of a running Strata.
struct AdminClient {
    let options: AdminOptions

    /// An admin API URL.
    func url(_ path: String) -> String {
        options.url + path
    }

    /// The admin token from `--token-file`, if one was given.
    func token() throws -> String? {
        guard let file = options.tokenFile else { return nil }
        guard let token = (try? String(contentsOfFile: file, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) else {
            throw CommandFailure("cannot read the token file \(file)")
        }
        return token
    }

    /// The process's client, or one that trusts `--cacert` (made once, kept for the
    /// process: a client must not be let go without a shutdown).
    private func client() throws -> HTTPClient {
        guard let cacert = options.cacert else { return adminHTTPClient }
        trustingClientLock.lock()
        defer { trustingClientLock.unlock() }
        if let made = trustingClient { return made }
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(cacert)
        } catch {
            throw CommandFailure("--cacert \(cacert): \(error)")
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(certificates)
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls, timeout: .init(connect: .seconds(3), read: .seconds(15)))
        configuration.connectionPool.retryConnectionEstablishment = false
        let made = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
        trustingClient = made
        return made
    }

    func get(_ path: String) async throws -> Data {
        try await send(.GET, path)
    }

    /// One request to the admin API; the body of a `200`, else a one-line failure.
    func send(_ method: HTTPMethod, _ path: String, json: Data? = nil) async throws -> Data {
        try options.checkAdminURL()
        var request = HTTPClientRequest(url: url(path))
        request.method = method
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: json))
        }
        if let token = try token() { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await client().execute(request, timeout: .seconds(15))
            body = try await response.body.collect(upTo: 64 << 20)
        } catch {
            throw CommandFailure("cannot reach the admin server at \(options.url): \(Self.describe(error, url: options.url))")
        }
        guard response.status == .ok else {
            if response.status == .unauthorized { throw CommandFailure("the admin server wants a token: pass --token-file") }
            struct ErrorAnswer: Decodable { let error: String }
            if let answer = try? JSONDecoder().decode(ErrorAnswer.self, from: Data(body.readableBytesView)) {
                throw CommandFailure(answer.error)
            }
            throw CommandFailure("the admin server answered \(response.status.code) for \(path)")
        }
        return Data(body.readableBytesView)
    }

    /// Why the admin server could not be reached, in a person's words.
    static func describe(_ error: any Error, url: String) -> String {
        let text = "\(error)"
        if text.contains("connectionRefused") || text.contains("Connection refused") || text.contains("ECONNREFUSED") {
            return "connection refused (is strata serve running, with its admin port there?)"
        }
        if url.hasPrefix("http://"), text.contains("remoteConnectionClosed") || text.contains("connectionReset") || text.contains("invalidEOFState")
            || text.contains("Connection reset") {
            return "the connection was closed (if the admin port serves TLS, use https://)"
        }
        if text.contains("connectTimeout") || text.contains("deadlineExceeded") { return "timed out" }
        return text
    }

    func decode<T: Decodable>(_ type: T.Type, _ path: String, method: HTTPMethod = .GET, json: Data? = nil) async throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(type, from: try await send(method, path, json: json))
        } catch let error as CommandFailure {
            throw error
        } catch {
            throw CommandFailure("unexpected answer from \(path): \(error)")
        }
    }
}

/// The client that trusts `--cacert`, once made.
nonisolated(unsafe) private var trustingClient: HTTPClient?
private let trustingClientLock = NSLock()

/// One client for the process: a refused connection fails at once, no retries.
let adminHTTPClient: HTTPClient = {
    var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(3), read: .seconds(15)))
    configuration.connectionPool.retryConnectionEstablishment = false
    return HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
}()

import ArgumentParser
