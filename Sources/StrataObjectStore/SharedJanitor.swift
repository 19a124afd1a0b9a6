import Foundation
import NIOCore
import StrataCore
import StrataStore

/// Keeps the shared bucket within `store.s3.max_size` and removes blobs nobody asked
/// for in `store.s3.max_idle`, one replica at a time.
///
/// Hits are counted in memory by each replica and written in batches, one object per
/// replica and flush (`access/<replica>/<time>`); the janitor merges them into
/// `access/merged` and uses, for each blob, the later of its last hit and its upload.
/// It runs only while it holds the `janitor` lease (a create-only object that expires),
/// so two replicas never evict at once.
public final class SharedJanitor: Sendable {
    public struct Report: Sendable, Equatable {
        public var blobs = 0
        public var bytesBefore: Int64 = 0
        public var removed = 0
        public var removedBytes: Int64 = 0
        public var idle = 0
        /// When this pass held the lease, for tests that check passes never overlap.
        public var started: ContinuousClock.Instant? = nil
        public var ended: ContinuousClock.Instant? = nil
    }

    let store: S3ContentStore
    let replica: String
    /// The bound; nil: none. Above it, the least recently used blobs go until 90% of it.
    let maxSize: Int64?
    let maxIdle: TimeInterval?
    /// How long a janitor's lease lives if it never finishes.
    let leaseSeconds: Double

    /// Largest merged hits object read; a larger one is dropped (see ``mergedHits()``).
    let maxMergedBytes: Int

    public init(store: S3ContentStore, replica: String, maxSize: Int64?, maxIdle: TimeInterval?, leaseSeconds: Double = 300,
                maxMergedBytes: Int = 256 << 20) {
        self.maxMergedBytes = maxMergedBytes
        self.store = store
        self.replica = replica
        self.maxSize = maxSize
        self.maxIdle = maxIdle
        self.leaseSeconds = leaseSeconds
    }

    /// Writes the hits the store counted since the last flush, as one object.
    public func flush(now: Date) async throws {
        let batch = store.takeAccesses()
        guard !batch.isEmpty else { return }
        let body = try JSONEncoder().encode(Dictionary(uniqueKeysWithValues: batch.map { ($0.key.description, $0.value) }))
        try await store.client.put("\(store.prefix)access/\(replica)/\(Int64(now.timeIntervalSince1970 * 1000))", ByteBuffer(bytes: body),
                                   contentType: "application/json")
    }

    /// One pass, if no other replica's janitor holds the lease; nil when one does.
    public func run(now: Date) async throws -> Report? {
        let leaseKey = "\(store.prefix)janitor"
        if let held = try await store.acquireLease(key: leaseKey, owner: replica, seconds: leaseSeconds, now: now) {
            // Another janitor runs, unless it died holding the lease, or the lease claims a
            // life no janitor gives it (written by hand to switch eviction off).
            if held.expires >= now.timeIntervalSince1970, held.expires <= now.timeIntervalSince1970 + leaseSeconds { return nil }
            let tookOver: Bool = try await store.takeOverLease(key: leaseKey, from: held, owner: replica,
                                                               seconds: leaseSeconds, now: now)
            if !tookOver { return nil }
        }
        do {
            let started = ContinuousClock.now
            var report = try await pass(now: now)
            report.started = started
            report.ended = ContinuousClock.now
            try? await store.client.delete(leaseKey)
            return report
        } catch {
            try? await store.client.delete(leaseKey)
            throw error
        }
    }

    private func pass(now: Date) async throws -> Report {
        let lastUse = try await mergedHits()
        let blobPrefix = "\(store.prefix)blobs/"
        var blobs: [(digest: Digest, size: Int64, used: Double)] = []
        for entry in try await store.client.listEntries(prefix: blobPrefix) {
            guard let digest = try? Digest(parsing: entry.key.dropFirst(blobPrefix.count).replacingOccurrences(of: "/", with: ":")) else { continue }
            blobs.append((digest, entry.size ?? 0, max(lastUse[digest] ?? 0, entry.lastModified ?? 0)))
        }
        var report = Report(blobs: blobs.count, bytesBefore: blobs.reduce(0) { $0 + $1.size })
        var victims: Set<Digest> = []
        if let maxIdle {
            for blob in blobs where now.timeIntervalSince1970 - blob.used > maxIdle { victims.insert(blob.digest); report.idle += 1 }
        }
        if let maxSize {
            var total = blobs.filter { !victims.contains($0.digest) }.reduce(0) { $0 + $1.size }
            if total > maxSize {
                for blob in blobs.sorted(by: { $0.used < $1.used }) where !victims.contains(blob.digest) {
                    guard total > maxSize / 10 * 9 else { break }
                    victims.insert(blob.digest)
                    total -= blob.size
                }
            }
        }
        for blob in blobs where victims.contains(blob.digest) {
            await store.remove(blob.digest)
            report.removed += 1
            report.removedBytes += blob.size
        }
        // Only blobs still in the bucket keep their hits: the merged object stays as large
        // as the bucket's listing, not as every digest ever asked for.
        let present = Set(blobs.map(\.digest)).subtracting(victims)
        try await saveHits(lastUse.filter { present.contains($0.key) })
        return report
    }

    /// The merged hit times and every batch written since, which are then removed.
    private func mergedHits() async throws -> [Digest: Double] {
        var merged: [Digest: Double] = [:]
        func add(_ bytes: [UInt8]) {
            guard let table = try? JSONDecoder().decode([String: Double].self, from: Data(bytes)) else { return }
            for (text, time) in table { if let digest = try? Digest(parsing: text) { merged[digest] = max(merged[digest] ?? 0, time) } }
        }
        let mergedKey = "\(store.prefix)access/merged"
        // An object too large to read (written by hand, or left by an older version) must
        // not stop eviction: without it, a blob's last use is its upload time, and the
        // object is written anew from what is read now.
        switch try await read(mergedKey, limit: maxMergedBytes) {
        case .bytes(let bytes): add(bytes)
        case .tooLarge: try? await store.client.delete(mergedKey)
        case .absent: break
        }
        for key in try await store.client.listAll(prefix: "\(store.prefix)access/") where key != mergedKey {
            // A batch too large to read is skipped, and removed like the others.
            if case .bytes(let bytes) = try await read(key, limit: 64 << 20) { add(bytes) }
            try? await store.client.delete(key)
        }
        return merged
    }

    private enum Read { case bytes([UInt8]), tooLarge, absent }

    /// An object of hits, or that it is too large to read (a failure of the store throws).
    private func read(_ key: String, limit: Int) async throws -> Read {
        let found: (bytes: [UInt8], object: S3Client.Object)?
        do {
            found = try await store.client.get(key, maxSize: limit)
        } catch {
            if error.isTooLarge { return .tooLarge }
            throw error
        }
        return found.map { .bytes($0.bytes) } ?? .absent
    }

    private func saveHits(_ hits: [Digest: Double]) async throws {
        let body = try JSONEncoder().encode(Dictionary(uniqueKeysWithValues: hits.map { ($0.key.description, $0.value) }))
        try await store.client.put("\(store.prefix)access/merged", ByteBuffer(bytes: body), contentType: "application/json")
    }
}
