import Foundation
import StrataCore

/// Brings the index and the files back into agreement after a crash or a hand edit.
///
/// Index rows whose blob is gone are dropped (with the tags and manifests that need
/// them). Blobs on disk that the index does not know, and blobs recorded before their
/// files were synced (a crash may have torn them), are verified: adopted, or removed
/// when their bytes do not match their digest.
public struct Reconciler: Sendable {
    public struct Report: Sendable, Equatable, CustomStringConvertible {
        public var droppedRows = 0
        public var adopted = 0
        public var removed = 0
        /// Provisional blobs verified and synced.
        public var confirmed = 0

        public init() {}

        mutating func add(_ other: Report) {
            droppedRows += other.droppedRows
            adopted += other.adopted
            removed += other.removed
            confirmed += other.confirmed
        }

        public var description: String {
            "dropped \(droppedRows) index rows without files, adopted \(adopted) blobs, confirmed \(confirmed) unsynced blobs, removed \(removed) bad blobs"
        }
    }

    let store: BlobStore
    let index: CacheIndex

    public init(store: BlobStore, index: CacheIndex) {
        self.store = store
        self.index = index
    }

    /// Both passes, one after the other.
    public func run(now: Date = Date()) async throws -> Report {
        var report = try await confirmProvisional()
        report.add(try await sweep(now: now))
        return report
    }

    /// What must happen before the cache is served: blobs recorded before their files
    /// were synced (a crash may have torn them) are verified, then synced, or removed.
    /// They are the fills that were in flight, so this is quick.
    public func confirmProvisional() async throws -> Report {
        var report = Report()
        for digest in try index.provisionalBlobs() {
            guard await store.verify(digest) != nil else {
                store.remove(digest)
                try index.removeBlob(digest)
                report.removed += 1
                continue
            }
            try await store.makeDurable(digest)
            try index.markDurable(digest)
            report.confirmed += 1
        }
        return report
    }

    /// Index rows whose files are gone are dropped; blob files the index does not know
    /// are verified, then adopted or removed. One shard directory at a time, so memory
    /// stays small however large the cache; safe while the cache serves and fills (a row
    /// is dropped only when its file is missing at that moment, and a file only adopted
    /// when no row appeared for it meanwhile).
    public func sweep(now: Date = Date()) async throws -> Report {
        var report = Report()
        for algorithm in Digest.Algorithm.allCases {
            for shard in 0..<256 {
                let prefix = String(format: "%02x", shard)
                // Rows first: a blob is committed file first, row second, so every row read
                // here had its file before the directory is listed.
                let known = Set(try index.blobDigests(algorithm: algorithm, hexPrefix: prefix))
                let onDisk = Set(store.digestsOnDisk(algorithm: algorithm, shard: prefix))
                for digest in known where !onDisk.contains(digest) && store.lookup(digest) == nil {
                    try index.removeBlob(digest)
                    report.droppedRows += 1
                }
                for digest in onDisk.subtracting(known) where try index.blob(digest) == nil {
                    try await adopt(digest, now: now, into: &report)
                }
                // A shard's work is synchronous: let requests run between shards.
                await Task.yield()
            }
        }
        return report
    }

    private func adopt(_ digest: Digest, now: Date, into report: inout Report) async throws {
        guard let blob = await store.verify(digest) else {
            store.remove(digest)
            report.removed += 1
            return
        }
        // A manifest's media type is in its own JSON; layers and configs need none.
        var mediaType: String? = nil
        if blob.size < 4 << 20, let bytes = try? await store.readAll(digest),
           let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
           let type = object["mediaType"] as? String, object["schemaVersion"] != nil {
            mediaType = type
        }
        try index.recordBlob(blob, mediaType: mediaType, at: now)
        report.adopted += 1
    }
}
