import ArgumentParser
import Foundation
import Logging
import StrataCore
import StrataServer

@main
struct Strata: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strata",
        abstract: "A tiered pull-through cache for container images.",
        version: StrataVersion.current,
        subcommands: [Serve.self, Status.self, List.self, RestoreTag.self, Requests.self, Prefetch.self, Verify.self, Export.self, Import.self, Configure.self])
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the registry mirror.")

    @Option(name: .long, help: "YAML config file.")
    var config: String?

    @Option(name: .long, help: "Registry port address, host:port (default 0.0.0.0:5000).")
    var listen: String?

    @Option(name: .customLong("admin-listen"), help: "Admin port address, host:port, or off (default 127.0.0.1:5050).")
    var adminListen: String?

    @Option(name: .customLong("cache-dir"), help: "Cache directory (default ./strata-cache).")
    var cacheDir: String?

    @Option(name: .customLong("tag-ttl"), help: "How long a cached tag is served without asking upstream (default 10m).")
    var tagTTL: String?

    @Option(name: .customLong("canonical"), help: "Canonical registry for docker.io, as a URL (overrides the config).")
    var canonical: String?

    @Flag(name: .customLong("cache-only"), help: "Serve only what is cached; never contact upstream.")
    var cacheOnly = false

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error.")
    var logLevel: String?

    func run() async throws {
        #if canImport(Glibc)
        // Blob chunks are 1 MiB buffers allocated on one thread and freed on another.
        // glibc's sliding mmap threshold would move them into per-thread arenas that
        // never shrink (32 concurrent cache hits of one blob reached 295 MiB peak RSS);
        // a fixed threshold keeps them mmapped and returned. (A 4 MiB threshold, which
        // kept them in the heap, let 32 concurrent TLS cache hits of a 500 MiB blob
        // reach 3.8 GB; at 128 KiB they peak at 112 MiB.) Hot paths avoid the mappings
        // instead: raw blobs go out with sendfile, compressed ones in 64 KiB pieces.
        // mallopt is not in Swift's Glibc module; call it through dlsym (RTLD_DEFAULT).
        if let symbol = dlsym(nil, "mallopt") {
            typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
            _ = unsafeBitCast(symbol, to: Mallopt.self)(-3 /* M_MMAP_THRESHOLD */, 128 << 10)
        }
        #endif
        do {
            var settings = try config.map { path throws(StrataConfiguration.Error) in try StrataConfiguration.load(path: path) } ?? StrataConfiguration()
            if let listen {
                guard ConfigValues.address(listen) != nil else { exitWithError("--listen must be host:port, not \"\(listen)\"") }
                settings.listen = listen
            }
            if let adminListen {
                if adminListen == "off" {
                    settings.adminListen = nil
                } else {
                    guard ConfigValues.address(adminListen) != nil else { exitWithError("--admin-listen must be host:port or off, not \"\(adminListen)\"") }
                    settings.adminListen = adminListen
                }
            }
            if let cacheDir { settings.cacheDirectory = cacheDir }
            if let tagTTL {
                guard let ttl = ConfigValues.duration(tagTTL) else { exitWithError("--tag-ttl must be a duration like 10m, not \"\(tagTTL)\"") }
                settings.tagTTL = ttl
            }
            if let canonical {
                guard let url = URL(string: canonical), url.scheme == "http" || url.scheme == "https" else {
                    exitWithError("--canonical must be an http:// or https:// URL")
                }
                settings.canonical[settings.defaultRegistry] = canonical
            }
            if cacheOnly { settings.cacheOnly = true }
            if let logLevel { settings.logLevel = logLevel }
            guard let level = Logger.Level(rawValue: settings.logLevel) else { exitWithError("unknown log level \(settings.logLevel) (use one of: \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")))") }
            LoggingSystem.bootstrap { label in LazyStreamLogHandler(label: label, level: level) }
            let logger = Logger(label: "strata")
            let ports = ListeningPorts(adminExpected: settings.adminListen != nil)
            let summary: @Sendable (StrataServer, Int, Int?) -> Void = { server, registry, admin in
                for line in server.startupSummary(registryPort: registry, adminPort: admin) {
                    logger.notice("\(line)")
                }
            }
            let holder = ServerHolder()
            let server = try StrataServer(configuration: settings, logger: logger, onListening: { port in
                if let (registry, admin) = ports.registry(port), let server = holder.server { summary(server, registry, admin) }
            }, onAdminListening: { port in
                if let (registry, admin) = ports.admin(port), let server = holder.server { summary(server, registry, admin) }
            })
            holder.server = server
            let started = Date()
            try await server.runUntilSignalled()
            let served = server.ledger.stats().total.requests
            logger.notice("strata stopped after \(StartupSummary.uptime(Date().timeIntervalSince(started))), \(served) requests served")
        } catch let error as StrataConfiguration.Error {
            exitWithError(error.description)
        } catch let error as StrataServer.StartupError {
            exitWithError(error.description)
        }
    }
}

/// The ports as they open: the summary is printed once both (or the registry port alone,
/// with the admin port off) listen.
final class ListeningPorts: @unchecked Sendable {
    private let lock = NSLock()
    private let adminExpected: Bool
    private var registryPort: Int?
    private var adminPort: Int?
    private var told = false

    init(adminExpected: Bool) { self.adminExpected = adminExpected }

    func registry(_ port: Int) -> (Int, Int?)? { record { $0.registryPort = port } }
    func admin(_ port: Int) -> (Int, Int?)? { record { $0.adminPort = port } }

    private func record(_ change: (ListeningPorts) -> Void) -> (Int, Int?)? {
        lock.lock()
        defer { lock.unlock() }
        change(self)
        guard !told, let registryPort, !adminExpected || adminPort != nil else { return nil }
        told = true
        return (registryPort, adminPort)
    }
}

/// The server, for callbacks that run once it listens (after it was made).
final class ServerHolder: @unchecked Sendable {
    private let lock = NSLock()
    private var value: StrataServer?
    var server: StrataServer? {
        get { lock.lock(); defer { lock.unlock() }; return value }
        set { lock.lock(); value = newValue; lock.unlock() }
    }
}
