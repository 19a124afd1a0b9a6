import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// Options shared by the commands that read the admin API.
struct AdminOptions: ParsableArguments {
    @Option(name: .long, help: "The admin server's URL (http:// when given as host:port).")
    var admin = "http://127.0.0.1:5050"

    @Option(name: .customLong("token-file"), help: "A file holding the admin bearer token.")
    var tokenFile: String?

    @Option(name: .long, help: "PEM certificates to trust for an https admin server (a private CA).")
    var cacert: String?

    /// `host:port` means `http://host:port`.
    mutating func validate() {
        if !admin.contains("://") { admin = "http://" + admin }
        while admin.hasSuffix("/") { admin.removeLast() }
    }

    /// A one-line error for an `--admin` that is not a server's URL.
    func checkAdminURL() throws {
        guard let url = URL(string: admin), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              url.host?.isEmpty == false, url.path.isEmpty, url.query == nil else {
            throw CommandFailure("--admin must be a URL like http://127.0.0.1:5050, not \"\(admin)\"")
        }
    }
}

/// Reads the admin API of a running Strata.
struct AdminClient {
    let options: AdminOptions

    /// An admin API URL.
    func url(_ path: String) -> String {
        options.admin.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + path
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
        try options.checkAdminURL()
        var request = HTTPClientRequest(url: url(path))
        if let token = try token() { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await client().execute(request, timeout: .seconds(15))
            body = try await response.body.collect(upTo: 64 << 20)
        } catch {
            throw CommandFailure("cannot reach the admin server at \(options.admin): \(error)")
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

    func decode<T: Decodable>(_ type: T.Type, _ path: String) async throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(type, from: try await get(path))
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
