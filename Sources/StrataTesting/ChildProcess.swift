import Foundation

/// A program the tests start, with its output in a log file, stopped by its own pid.
public final class ChildProcess: @unchecked Sendable {
    public let process: Process
    public let logPath: String
    public let name: String

    public init(name: String, executable: String, arguments: [String], logPath: String, environment: [String: String]? = nil) throws {
        self.name = name
        self.logPath = logPath
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        if let environment { process.environment = environment }
        try process.run()
        LiveChildren.add(process.processIdentifier)
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// Sends SIGTERM (or `signal`) to this process only, and waits for it to exit.
    public func stop(signal: Int32 = SIGTERM) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        LiveChildren.remove(process.processIdentifier)
    }

    public func log() -> String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }

    deinit { stop() }
}

/// Runs a command to completion and returns its exit status and combined output.
public func runCommand(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Finds a program on PATH.
public func which(_ program: String) -> String? {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
        let path = "\(dir)/\(program)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    for dir in ["/usr/sbin", "/sbin", "/usr/local/bin"] where FileManager.default.isExecutableFile(atPath: "\(dir)/\(program)") {
        return "\(dir)/\(program)"
    }
    return nil
}

/// A fresh temp directory for one test, under one folder per test process that is
/// removed when the process exits.
public func makeTempDirectory(_ label: String) -> String {
    let path = LiveChildren.temporaryRoot + "/\(label)-\(UUID().uuidString.prefix(8))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Children still running when the test process exits are stopped by their pids, so
/// no registry outlives the test run; then the process's temp folder is removed.
enum LiveChildren {
    nonisolated(unsafe) private static var pids = Set<Int32>()
    private static let lock = NSLock()
    nonisolated(unsafe) private static var installed = false

    /// `<tmp>/strata-test-<pid>`: every temp directory of this test process.
    static let temporaryRoot: String = {
        let root = NSTemporaryDirectory() + "strata-test-\(getpid())"
        installOnce()
        return root
    }()

    private static func installOnce() {
        lock.lock()
        defer { lock.unlock() }
        guard !installed else { return }
        installed = true
        atexit {
            LiveChildren.stopAll()
            try? FileManager.default.removeItem(atPath: LiveChildren.temporaryRoot)
        }
    }

    static func add(_ pid: Int32) {
        _ = temporaryRoot
        lock.lock()
        defer { lock.unlock() }
        pids.insert(pid)
    }

    static func remove(_ pid: Int32) {
        lock.lock()
        defer { lock.unlock() }
        pids.remove(pid)
    }

    static func stopAll() {
        lock.lock()
        let all = pids
        pids = []
        lock.unlock()
        for pid in all { kill(pid, SIGTERM) }
    }
}
