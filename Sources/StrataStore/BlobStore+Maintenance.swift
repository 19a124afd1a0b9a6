import Foundation
import NIOCore
import StrataCore

/// Whole-store walks: what is on disk, re-hashing, quarantine.
extension BlobStore {
    /// Every digest with a blob directory on disk.
    public func digestsOnDisk() -> [Digest] {
        var out: [Digest] = []
        for algorithm in FS.list(layout.blobsDirectory) {
            guard let kind = Digest.Algorithm(rawValue: algorithm) else { continue }
            for shard in FS.list("\(layout.blobsDirectory)/\(algorithm)") {
                for hex in FS.list("\(layout.blobsDirectory)/\(algorithm)/\(shard)") {
                    if let digest = try? Digest(algorithm: kind, hex: hex), hex.hasPrefix(shard) { out.append(digest) }
                }
            }
        }
        return out
    }

    /// The digests with a blob directory in one shard (`ab` for digests starting `ab`).
    public func digestsOnDisk(algorithm: Digest.Algorithm, shard: String) -> [Digest] {
        FS.list("\(layout.blobsDirectory)/\(algorithm.rawValue)/\(shard)").compactMap { hex in
            hex.hasPrefix(shard) ? try? Digest(algorithm: algorithm, hex: hex) : nil
        }
    }

    /// Re-reads a stored blob (decompressing frames) and hashes it.
    /// Returns the blob when its bytes match its digest, nil when they don't or it cannot be read.
    public func verify(_ digest: Digest) async -> StoredBlob? {
        guard let reader = try? open(digest) else { return nil }
        let hasher = ContentHasher(digest.algorithm)
        var count: Int64 = 0
        do {
            try await reader.read(0, reader.blob.size) { buffer in
                buffer.withUnsafeReadableBytes { hasher.update($0) }
                count += Int64(buffer.readableBytes)
            }
        } catch {
            return nil
        }
        return count == reader.blob.size && hasher.finalize() == digest ? reader.blob : nil
    }

    /// Moves a blob's directory to `quarantine/`, out of reach of readers, for a person to inspect.
    public func quarantine(_ digest: Digest) throws(StoreError) {
        let directory = "\(layout.root)/quarantine"
        try FS.makeDirectories(directory)
        forgetFrameIndex(digest)
        let target = "\(directory)/\(digest.algorithm.rawValue)-\(digest.hex)-\(Int(Date().timeIntervalSince1970))"
        try FS.rename(layout.blobDirectory(digest), target)
    }
}
