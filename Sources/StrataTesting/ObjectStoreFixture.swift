import Foundation

/// A real S3 endpoint for tests: the one `Tests/run.sh` started (`S3_ENDPOINT` and the
/// `AWS_*` variables in the environment), or else a Ceph RGW this process starts with
/// `Tests/object-store.sh` on first use and stops when it exits.
public actor ObjectStoreFixture {
    public static let shared = ObjectStoreFixture()

    public struct Endpoint: Sendable {
        public let url: String
        public let accessKey: String
        public let secretKey: String
        public let region: String
    }

    private var started: Endpoint?

    public func endpoint() throws -> Endpoint {
        let env = ProcessInfo.processInfo.environment
        if let url = env["S3_ENDPOINT"], let key = env["AWS_ACCESS_KEY_ID"], let secret = env["AWS_SECRET_ACCESS_KEY"] {
            return Endpoint(url: url, accessKey: key, secretKey: secret, region: env["AWS_REGION"] ?? "us-east-1")
        }
        if let started { return started }
        let endpoint = try start()
        started = endpoint
        return endpoint
    }

    /// A bucket name no other test uses.
    public static func bucketName(_ label: String) -> String {
        "strata-\(label)-\(UUID().uuidString.lowercased().prefix(8))"
    }

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Tests/object-store.sh").path

    /// An object store of a test's own, to stop in the middle of the test (a store that
    /// goes down). The caller stops it. With `tls` (a PEM certificate and key for 127.0.0.1), the endpoint is its `https`
    /// one on the port after the next two.
    public static func startPrivate(tls: (certificate: String, key: String)? = nil) throws -> (endpoint: Endpoint, stop: @Sendable () -> Void) {
        let directory = makeTempDirectory("object-store")
        let port = try launch(directory, environment: tls.map { ["TLS_CERT": $0.certificate, "TLS_KEY": $0.key] } ?? [:])
        let stop: @Sendable () -> Void = {
            _ = try? runCommand("/bin/bash", [script, "kill", directory])
        }
        let plain = endpoint(port: port)
        guard tls != nil else { return (plain, stop) }
        return (Endpoint(url: "https://127.0.0.1:\(port + 3)", accessKey: plain.accessKey, secretKey: plain.secretKey, region: plain.region), stop)
    }

    /// The endpoint `Tests/object-store.sh` makes on `port`, with its fixed test keys.
    private static func endpoint(port: Int) -> Endpoint {
        Endpoint(url: "http://127.0.0.1:\(port)", accessKey: "STRATATESTACCESSKEY0",
                 secretKey: "stratatestsecretkey0000000000000000000000", region: "us-east-1")
    }

    /// Starts the store on a port below the kernel's ephemeral range (32768 and up), where
    /// other tests' servers and every outgoing connection take theirs: the gateway, the
    /// monitor and the OSD bind PORT to PORT+40. A port found in use is tried again elsewhere.
    private static func launch(_ directory: String, environment: [String: String] = [:]) throws -> Int {
        var failure = ""
        for _ in 0..<3 {
            let port = Int.random(in: 20_000...32_000)
            let errors = "\(NSTemporaryDirectory())/object-store-start-\(UUID().uuidString).err"
            _ = FileManager.default.createFile(atPath: errors, contents: nil)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
            process.arguments = [script, "start", directory, "\(port)"]
            // A file, not a pipe: the daemons keep standard error, and a pipe would not end.
            process.standardError = FileHandle(forWritingAtPath: errors)
            try process.run()
            process.waitUntilExit()
            failure = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
            try? FileManager.default.removeItem(atPath: errors)
            if process.terminationStatus == 0 { return port }
            guard failure.contains("is in use") else { break }
        }
        let logs = ((try? FileManager.default.contentsOfDirectory(atPath: "\(directory)/log")) ?? []).sorted().map { name in
            let text = (try? String(contentsOfFile: "\(directory)/log/\(name)", encoding: .utf8)) ?? ""
            return "--- \(name):\n" + text.split(separator: "\n").suffix(8).joined(separator: "\n")
        }.joined(separator: "\n")
        throw TestSupportError("Tests/object-store.sh could not start Ceph RGW (apt-get install radosgw ceph-mon ceph-osd): \(failure)\(logs)")
    }

    private func start() throws -> Endpoint {
        let script = Self.script
        let directory = makeTempDirectory("object-store")
        let port = try Self.launch(directory)
        stopAtExit = (script, directory)
        atexit {
            guard let (script, directory) = stopAtExit else { return }
            let stop = Process()
            stop.executableURL = URL(fileURLWithPath: "/bin/bash")
            stop.arguments = [script, "kill", directory]
            try? stop.run()
            stop.waitUntilExit()
        }
        return Self.endpoint(port: port)
    }
}

/// The object store this process started, stopped by the exit handler.
nonisolated(unsafe) private var stopAtExit: (script: String, directory: String)?
