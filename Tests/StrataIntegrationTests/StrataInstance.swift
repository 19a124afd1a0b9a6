import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import StrataMirror
import StrataServer
import StrataTesting

/// A Strata server running in the test process on a free loopback port.
final class StrataInstance: @unchecked Sendable {
    let server: StrataServer
    let port: Int
    let adminPort: Int
    let cacheDirectory: String
    private let task: Task<Void, any Error>

    var url: String { "http://127.0.0.1:\(port)" }
    var adminURL: String { "http://127.0.0.1:\(adminPort)" }
    var hostPort: String { "127.0.0.1:\(port)" }

    /// Starts Strata with `canonical` as Docker Hub's stand-in (never the real one).
    static func start(
        canonical: String?, cacheDirectory: String? = nil, tagTTL: TimeInterval = 600,
        configure: (inout StrataConfiguration) -> Void = { _ in },
        now: @escaping @Sendable () -> Date = Date.init,
        onPrefetchRound: @escaping @Sendable (Prefetcher.Summary) -> Void = { _ in }
    ) async throws -> StrataInstance {
        var config = StrataConfiguration()
        config.listen = "127.0.0.1:0"
        config.adminListen = "127.0.0.1:0"
        config.cacheDirectory = cacheDirectory ?? makeTempDirectory("cache")
        config.tagTTL = tagTTL
        config.canonical = canonical.map { ["docker.io": $0] } ?? [:]
        configure(&config)
        var logger = Logger(label: "strata-test")
        logger.logLevel = ProcessInfo.processInfo.environment["STRATA_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        let (adminStream, adminContinuation) = AsyncStream.makeStream(of: Int.self)
        let server = try StrataServer(configuration: config, logger: logger, now: now,
                                      onListening: { continuation.yield($0) }, onAdminListening: { adminContinuation.yield($0) },
                                      onPrefetchRound: onPrefetchRound)
        let task = Task { try await server.run() }
        var port = 0
        for await p in stream { port = p; break }
        var adminPort = 0
        if config.adminListen != nil {
            for await p in adminStream { adminPort = p; break }
        }
        return StrataInstance(server: server, port: port, adminPort: adminPort, cacheDirectory: config.cacheDirectory, task: task)
    }

    private init(server: StrataServer, port: Int, adminPort: Int, cacheDirectory: String, task: Task<Void, any Error>) {
        self.server = server
        self.port = port
        self.adminPort = adminPort
        self.cacheDirectory = cacheDirectory
        self.task = task
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }
}

/// skopeo, as a real client of the registry port.
enum Skopeo {
    static var executable: String? { which("skopeo") }

    /// `skopeo copy --all docker://SOURCE dir:DEST`; returns the destination directory.
    @discardableResult
    static func copy(_ source: String, to destination: String? = nil) throws -> String {
        guard let skopeo = executable else { throw TestSupportError("skopeo is not installed (apt-get install skopeo)") }
        let dest = destination ?? makeTempDirectory("skopeo")
        try? FileManager.default.removeItem(atPath: dest)
        let (status, output) = try runCommand(skopeo, [
            "--insecure-policy", "copy", "--all", "--src-tls-verify=false", "docker://\(source)", "dir:\(dest)",
        ])
        guard status == 0 else { throw TestSupportError("skopeo copy \(source) failed: \(output)") }
        return dest
    }

    /// `skopeo list-tags docker://REPOSITORY`: the tags it printed.
    static func listTags(_ repository: String) throws -> [String] {
        guard let skopeo = executable else { throw TestSupportError("skopeo is not installed (apt-get install skopeo)") }
        let (status, output) = try runCommand(skopeo, ["list-tags", "--tls-verify=false", "docker://\(repository)"])
        guard status == 0 else { throw TestSupportError("skopeo list-tags \(repository) failed: \(output)") }
        struct Listing: Decodable { let Tags: [String] }
        return try JSONDecoder().decode(Listing.self, from: Data(output.utf8)).Tags
    }

    /// The files of a `dir:` copy, name → bytes.
    static func contents(_ directory: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            out[name] = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(name)"))
        }
        return out
    }
}

/// Whether `error` is what a client sees when a response is cut off: the connection
/// closed (AsyncHTTPClient's error) or the body ended before its length (NIO's parser's).
func isCutOff(_ error: any Error) -> Bool {
    error is HTTPClientError || error is HTTPParserError
}

/// A client that hands back redirects instead of following them.
let redirectsShown = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))

/// Sends one request and collects the whole answer (a redirect is answered as it is).
func fetch(
    _ url: String, method: HTTPMethod = .GET, headers: [(String, String)] = [], body: String? = nil, limit: Int = 256 << 20
) async throws -> (status: Int, headers: HTTPHeaders, body: [UInt8]) {
    var request = HTTPClientRequest(url: url)
    request.method = method
    if let body { request.body = .bytes(ByteBuffer(string: body)) }
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    let response = try await redirectsShown.execute(request, timeout: .seconds(120))
    let body = try await response.body.collect(upTo: limit)
    return (Int(response.status.code), response.headers, Array(body.readableBytesView))
}

import NIOHTTP1
