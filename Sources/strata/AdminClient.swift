import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix

/// Options shared by the commands that read the admin API.
struct AdminOptions: ParsableArguments {
    @Option(name: .long, help: "The admin server's URL.")
    var admin = "http://127.0.0.1:5050"

    @Option(name: .customLong("token-file"), help: "A file holding the admin bearer token.")
    var tokenFile: String?
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

    func get(_ path: String) async throws -> Data {
        var request = HTTPClientRequest(url: url(path))
        if let token = try token() { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await adminHTTPClient.execute(request, timeout: .seconds(15))
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

/// One client for the process: a refused connection fails at once, no retries.
let adminHTTPClient: HTTPClient = {
    var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(3), read: .seconds(15)))
    configuration.connectionPool.retryConnectionEstablishment = false
    return HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
}()

import ArgumentParser
