import Logging
import StrataCore
import StrataStore

/// Re-hashes stored blobs in the background, at a bounded rate, and quarantines any
/// whose bytes no longer match their digest (a flipped bit on disk, a file someone
/// edited): the next request fetches such a blob again instead of serving it.
///
/// Small blobs are also checked on every read (``DiskContentStore/verifyOnReadLimit``);
/// the scrub is what catches a damaged large blob that goes out with sendfile.
public final class CacheScrubber: Sendable {
    public struct Report: Sendable, Equatable {
        public var blobs = 0
        public var bytes: Int64 = 0
        public var quarantined: [Digest] = []
    }

    let disk: DiskContentStore
    /// Bytes per second to read at most.
    let rate: Int64
    let logger: Logger
    /// Waits `seconds`; injected so tests need not wait.
    let pause: @Sendable (Double) async throws -> Void

    public init(disk: DiskContentStore, bytesPerSecond: Int64, logger: Logger,
                pause: @escaping @Sendable (Double) async throws -> Void = { try await Task.sleep(for: .seconds($0)) }) {
        self.disk = disk
        self.rate = max(1, bytesPerSecond)
        self.logger = logger
        self.pause = pause
    }

    /// One pass over every blob on disk.
    @discardableResult
    public func pass() async throws -> Report {
        var report = Report()
        for digest in disk.blobs.digestsOnDisk().sorted() {
            try Task.checkCancellation()
            guard let stored = disk.blobs.lookup(digest) else { continue }
            if await disk.blobs.verify(digest) == nil {
                // Evicted while it was read: nothing to quarantine.
                guard disk.blobs.lookup(digest) != nil else { continue }
                logger.error("stored blob fails its digest; quarantined, to be fetched again", metadata: ["digest": "\(digest)"])
                disk.quarantine(digest)
                report.quarantined.append(digest)
            }
            report.blobs += 1
            report.bytes = report.bytes.saturatingAdd(stored.size)
            try await pause(Double(stored.size) / Double(rate))
        }
        return report
    }
}
