import AsyncHTTPClient
import Foundation

/// Debian's `docker-registry` (CNCF distribution) on a free loopback port, started by
/// a test with its own config and data, and stopped by its pid.
public final class DistributionRegistry: @unchecked Sendable {
    public enum Mode: Sendable {
        /// A plain registry.
        case plain
        /// A pull-through cache in front of `remoteURL`.
        case proxy(remoteURL: String)
        /// Bearer-token auth, with tokens from `realm` signed by the key of `certificatePath`.
        case token(realm: String, service: String, issuer: String, certificatePath: String)
    }

    public let port: Int
    public let directory: String
    public let mode: Mode
    private var child: ChildProcess?

    public var url: String { "http://127.0.0.1:\(port)" }
    public var hostPort: String { "127.0.0.1:\(port)" }

    public static var executable: String? { which("docker-registry") }

    public init(mode: Mode = .plain, directory: String? = nil, port: Int? = nil) {
        self.mode = mode
        self.port = port ?? FreePort.next()
        self.directory = directory ?? makeTempDirectory("registry")
    }

    public func start() async throws {
        guard let executable = Self.executable else {
            throw TestSupportError("docker-registry is not installed (apt-get install docker-registry)")
        }
        var config = """
            version: 0.1
            log:
              level: info
              accesslog:
                disabled: false
            storage:
              cache:
                blobdescriptor: inmemory
              filesystem:
                rootdirectory: \(directory)/data
              delete:
                enabled: true
            http:
              addr: 127.0.0.1:\(port)

            """
        switch mode {
        case .plain:
            break
        case .proxy(let remote):
            config += "proxy:\n  remoteurl: \(remote)\n"
        case .token(let realm, let service, let issuer, let certificate):
            config += """
                auth:
                  token:
                    realm: \(realm)
                    service: \(service)
                    issuer: \(issuer)
                    rootcertbundle: \(certificate)

                """
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let configPath = "\(directory)/config.yml"
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        child = try ChildProcess(name: "docker-registry", executable: executable, arguments: ["serve", configPath],
                                 logPath: "\(directory)/registry-\(UUID().uuidString.prefix(6)).log")
        try await waitUntilAnswering("\(url)/v2/")
    }

    public func stop() {
        child?.stop()
    }

    public var isRunning: Bool { child?.isRunning ?? false }

    /// One request from the access log.
    public struct LoggedRequest: Sendable, Hashable {
        public let method: String
        public let path: String
        public let status: Int
        public let bytes: Int64
        public let userAgent: String
    }

    private static let accessPattern = (#"\"([A-Z]+) ([^ ]+) HTTP/[0-9.]+\" ([0-9]{3}) ([0-9-]+) \"[^\"]*\" \"([^\"]*)\""#)

    /// The requests this registry has served, from its access log (all runs of it).
    public func requests() -> [LoggedRequest] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory))?.filter { $0.hasSuffix(".log") } ?? []
        var out: [LoggedRequest] = []
        for file in files.sorted() {
            guard let text = try? String(contentsOfFile: "\(directory)/\(file)", encoding: .utf8) else { continue }
            for line in text.split(separator: "\n") where !line.hasPrefix("time=") {
                guard let regex = try? Regex(Self.accessPattern), let match = try? regex.firstMatch(in: String(line)) else { continue }
                let parts = match.output.compactMap { $0.substring.map(String.init) }
                guard parts.count == 6 else { continue }
                out.append(LoggedRequest(method: parts[1], path: parts[2], status: Int(parts[3]) ?? 0,
                                         bytes: Int64(parts[4]) ?? 0, userAgent: parts[5]))
            }
        }
        return out
    }

    /// The requests served so far, once the log has caught up: a marker request is
    /// sent and the log read until the marker shows, so every answer a client already
    /// received is in it. (The registry writes a line after each response completes.)
    public func settledRequests() async throws -> [LoggedRequest] {
        guard isRunning else { return requests() }
        let marker = "/v2/?log-marker=\(UUID().uuidString)"
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url + marker), timeout: .seconds(10))
        _ = try await response.body.collect(upTo: 1 << 20)
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            let all = requests()
            if all.contains(where: { $0.path == marker }) { return all.filter { !$0.path.hasPrefix("/v2/?log-marker=") } }
            guard ContinuousClock.now < deadline else { throw TestSupportError("registry log never showed \(marker)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Blob `GET`s this registry answered, by digest, once the log has caught up.
    public func settledBlobGets() async throws -> [String: [LoggedRequest]] {
        Self.blobGets(try await settledRequests())
    }

    /// Blob `GET`s this registry answered, by digest.
    public func blobGets() -> [String: [LoggedRequest]] {
        Self.blobGets(requests())
    }

    static func blobGets(_ requests: [LoggedRequest]) -> [String: [LoggedRequest]] {
        var out: [String: [LoggedRequest]] = [:]
        for request in requests where request.method == "GET" && request.path.contains("/blobs/sha256:") {
            let digest = String(request.path[request.path.range(of: "sha256:")!.lowerBound...])
            out[digest.split(separator: "?").first.map(String.init) ?? digest, default: []].append(request)
        }
        return out
    }
}
