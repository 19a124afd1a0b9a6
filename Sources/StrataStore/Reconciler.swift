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

    public func run(now: Date = Date()) async throws -> Report {
        var report = Report()
        let onDisk = Set(store.digestsOnDisk())
        let rows = try index.allBlobs()
        let known = Set(rows.map(\.digest))
        for row in rows where !onDisk.contains(row.digest) || store.lookup(row.digest) == nil {
            try index.removeBlob(row.digest)
            report.droppedRows += 1
        }
        for digest in try index.provisionalBlobs() where onDisk.contains(digest) {
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
        for digest in onDisk.subtracting(known) {
            guard let blob = await store.verify(digest) else {
                store.remove(digest)
                report.removed += 1
                continue
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
        return report
    }
}
