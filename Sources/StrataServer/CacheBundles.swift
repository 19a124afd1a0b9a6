import Foundation
import StrataCore
import StrataStore

/// A cache directory opened by the command line while no server runs on it, for
/// `strata export` and `strata import` (OCI image layout tars).
public struct CacheBundles: Sendable {
    public typealias Report = ImageBundle.Report
    public let directory: String
    private let bundle: ImageBundle

    /// Opens the cache in `directory`. With `create`, a directory that does not exist yet
    /// or is empty becomes a new cache (an import seeding a site); any other directory
    /// without a Strata cache in it is refused (a typo in `--cache-dir` must not leave an
    /// empty cache somewhere, nor blame the images).
    public init(directory: String, create: Bool = false) throws {
        let store = BlobStore(root: directory)
        let files = FileManager.default
        let holdsCache = files.fileExists(atPath: store.layout.indexPath) && files.fileExists(atPath: store.layout.blobsDirectory)
        if !holdsCache {
            let isEmpty = (try? files.contentsOfDirectory(atPath: directory))?.isEmpty ?? !files.fileExists(atPath: directory)
            guard create, isEmpty else {
                throw StrataServer.StartupError(description: files.fileExists(atPath: directory)
                    ? "\(directory) holds no Strata cache" : "\(directory) does not exist")
            }
        }
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
