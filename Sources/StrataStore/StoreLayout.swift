import StrataCore

/// Where things live under the cache directory.
///
/// ```
/// <cache_dir>/
///   blobs/sha256/ab/abcdef.../data          raw bytes, served with large reads
///   blobs/sha256/ab/abcdef.../data.zst      independent zstd frames, each with a checksum
///   blobs/sha256/ab/abcdef.../frames.idx    the frame index of data.zst
///   tmp/                                    fills in progress, removed at start-up
///   quarantine/                             blobs that failed verification
///   index.sqlite                            tags, manifests, blob sizes, last access
/// ```
///
/// A blob becomes visible with one atomic `rename` of its whole directory, so a reader
/// sees either nothing or a complete, verified blob.
public struct StoreLayout: Sendable {
    public let root: String

    public init(root: String) {
        self.root = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
    }

    public var blobsDirectory: String { "\(root)/blobs" }
    public var tmpDirectory: String { "\(root)/tmp" }
    public var indexPath: String { "\(root)/index.sqlite" }

    public func blobDirectory(_ digest: Digest) -> String {
        "\(root)/blobs/\(digest.algorithm.rawValue)/\(digest.hex.prefix(2))/\(digest.hex)"
    }

    public func shardDirectory(_ digest: Digest) -> String {
        "\(root)/blobs/\(digest.algorithm.rawValue)/\(digest.hex.prefix(2))"
    }

    public static let rawFile = "data"
    public static let compressedFile = "data.zst"
    public static let frameIndexFile = "frames.idx"
}
