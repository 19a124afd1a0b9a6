import Foundation
import Logging
import ServiceLifecycle
import StrataMirror

/// Appends every ledger record to a JSON-lines file, off the request path: records are
/// queued (the newest 10,000 kept if the disk falls behind) and written by this service.
struct AccessLogService: Service {
    let path: String
    let records: AsyncStream<LedgerRecord>
    let logger: Logger

    static func make(path: String, ledger: Ledger, logger: Logger) throws -> AccessLogService {
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw StrataServer.StartupError(description: "cannot create admin.access_log \(path)")
            }
        }
        guard FileHandle(forWritingAtPath: path) != nil else {
            throw StrataServer.StartupError(description: "cannot write admin.access_log \(path)")
        }
        let (stream, continuation) = AsyncStream.makeStream(of: LedgerRecord.self, bufferingPolicy: .bufferingNewest(10_000))
        ledger.observe { continuation.yield($0) }
        return AccessLogService(path: path, records: stream, logger: logger)
    }

    func run() async throws {
        guard let handle = FileHandle(forWritingAtPath: path) else { return }
        defer { try? handle.close() }
        _ = try? handle.seekToEnd()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        await cancelWhenGracefulShutdown {
            for await record in records {
                guard var line = try? encoder.encode(record) else { continue }
                line.append(0x0a)
                do {
                    try handle.write(contentsOf: line)
                } catch {
                    logger.error("cannot write the access log", metadata: ["path": "\(path)", "error": "\(error)"])
                }
            }
        }
    }
}
