import Foundation
import StrataCore
import StrataStore

/// `strata verify`: re-hashes every stored blob, compressed ones after decompression,
/// and moves any that no longer match their digest to `quarantine/`.
public struct CacheVerifier: Sendable {
    public struct Report: Sendable, Equatable {
        public var blobs = 0
        public var bytes: Int64 = 0
        public var quarantined: [String] = []
    }

    let store: BlobStore
    let index: CacheIndex

    /// Opens the cache in `directory` without starting a server.
    public init(cacheDirectory: String) throws {
        let store = BlobStore(root: cacheDirectory)
        guard FileManager.default.fileExists(atPath: store.layout.blobsDirectory) else {
            throw StrataServer.StartupError(description: "\(cacheDirectory) holds no Strata cache")
        }
        self.store = store
        self.index = try CacheIndex(path: store.layout.indexPath)
    }

    /// Verifies every blob; `progress` gets (done, total, bytes so far) after each one.
    public func run(progress: (Int, Int, Int64) -> Void = { _, _, _ in }) async throws -> Report {
        var report = Report()
        let digests = store.digestsOnDisk().sorted()
        for (i, digest) in digests.enumerated() {
            if let blob = await store.verify(digest) {
                report.bytes += blob.size
            } else {
                try store.quarantine(digest)
                try index.removeBlob(digest)
                report.quarantined.append(digest.description)
            }
            report.blobs += 1
            progress(i + 1, digests.count, report.bytes)
        }
        return report
    }
}
