import StrataCore
import StrataStore

/// A cache directory opened by the command line while no server runs on it, for
/// `strata export` and `strata import` (OCI image layout tars).
public struct CacheBundles: Sendable {
    public typealias Report = ImageBundle.Report
    public let directory: String
    private let bundle: ImageBundle

    /// Opens (and if need be creates) the cache directory and its index.
    public init(directory: String) throws {
        let store = BlobStore(root: directory)
        try store.prepareDirectories()
        self.directory = directory
        self.bundle = ImageBundle(store: store, index: try CacheIndex(path: store.layout.indexPath))
    }

    /// Writes the cached images, with every manifest and blob they name, to a tar.
    public func export(_ images: [ImageReference], to path: String, withReferrers: Bool = false, platform: String? = nil) async throws -> Report {
        try await bundle.export(images, to: path, withReferrers: withReferrers, platform: platform)
    }

    /// Loads a tar into the cache, verifying every digest before anything is stored.
    public func importBundle(from path: String) async throws -> Report {
        try await bundle.importBundle(from: path)
    }
}
