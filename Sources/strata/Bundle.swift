import ArgumentParser
import Foundation
import StrataCore
import StrataServer

/// Options naming a cache directory, for the commands that work on it directly.
struct CacheOptions: ParsableArguments {
    @Option(name: .long, help: "YAML config file (for cache.dir).") var config: String?
    @Option(name: .customLong("cache-dir"), help: "Cache directory (default ./strata-cache).") var cacheDir: String?

    /// `--cache-dir`, else the config's `cache.dir`, else the default.
    func directory() throws -> String {
        if let cacheDir { return cacheDir }
        if let config { return try StrataConfiguration.load(path: config).cacheDirectory }
        return "./strata-cache"
    }

    /// The cache, which must exist; with `create`, a missing or empty directory becomes one.
    func open(create: Bool = false) throws -> CacheBundles {
        let directory = try directory()
        do {
            return try CacheBundles(directory: directory, create: create)
        } catch let error as StrataServer.StartupError {
            throw CommandFailure(error.description)
        } catch {
            throw CommandFailure("cannot open the cache in \(directory): \(error)")
        }
    }
}

/// `strata export`: cached images to an OCI image layout tar.
struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write cached images to an OCI image layout tar (to seed an air-gapped site).")

    @OptionGroup var cache: CacheOptions
    @Option(name: .shortAndLong, help: "The tar file to write.") var output: String
    @Option(name: .long, help: "For multi-platform images: export only this platform (linux/amd64) as the image.")
    var platform: String?
    @Flag(name: .customLong("with-referrers"), help: "Also write the cached signatures, SBOMs and attestations that refer to the images (prefetch them with --with-referrers first).")
    var withReferrers = false
    @Argument(help: "Images as cached: alpine:3.20, ghcr.io/org/app:1, repo@sha256:...") var images: [String]

    func run() async throws {
        try await runReporting {
            let bundles = try wrap { try cache.open() }
            var references: [ImageReference] = []
            for image in images {
                guard let reference = ImageReference(parsing: image) else { throw CommandFailure("not an image reference: \(image)") }
                references.append(reference)
            }
            let report = try await wrap { try await bundles.export(references, to: output, withReferrers: withReferrers, platform: platform) }
            Output.write("exported \(report.images) images, \(report.blobs) blobs, \(Format.bytes(report.bytes)) to \(output)")
        }
    }
}

/// `strata import`: an OCI image layout tar into the cache, every digest verified.
struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Load an OCI image layout tar into the cache, verifying every digest.")

    @OptionGroup var cache: CacheOptions
    @Argument(help: "The tar file to read.") var bundle: String

    func run() async throws {
        try await runReporting {
            let bundles = try wrap { try cache.open(create: true) }
            let report = try await wrap { try await bundles.importBundle(from: bundle) }
            Output.write("imported \(report.images) images, \(report.blobs) blobs, \(Format.bytes(report.bytes)) into \(bundles.directory)")
        }
    }
}

