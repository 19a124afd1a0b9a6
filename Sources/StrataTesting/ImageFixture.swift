import Foundation
import StrataCore

/// A synthetic image: its manifest bytes and every blob it references, built in memory.
public struct ImageFixture: Sendable {
    public let manifest: [UInt8]
    public let mediaType: String
    public let digest: Digest
    public let blobs: [Digest: [UInt8]]
    /// Platform manifests of an index, pushed by digest before the index.
    public let children: [ImageFixture]

    public enum Format: Sendable {
        case oci
        case docker
    }

    public enum LayerContent: Sendable {
        /// Random bytes: incompressible, stored raw.
        case random(Int)
        /// Repetitive text in a tar: compressible, stored as zstd frames.
        case text(Int)
        /// Random bytes, gzip-compressed by the system's gzip, as real layers are.
        case gzipRandom(Int)
    }

    /// A single-platform image.
    public static func image(format: Format = .oci, layers: [LayerContent], platform: (os: String, arch: String) = ("linux", "amd64"), label: String = "test") throws -> ImageFixture {
        var blobs: [Digest: [UInt8]] = [:]
        var layerDescriptors: [String] = []
        var diffIDs: [String] = []
        for (i, content) in layers.enumerated() {
            let (bytes, type, diffID) = try layerBytes(content, format: format, name: "\(label)-\(i)")
            let digest = ContentHasher.digest(of: bytes)
            blobs[digest] = bytes
            diffIDs.append("\"\(diffID)\"")
            layerDescriptors.append(#"{"mediaType":"\#(type)","digest":"\#(digest)","size":\#(bytes.count)}"#)
        }
        let diffIDList = diffIDs.joined(separator: ",")
        let config = Array(#"{"architecture":"\#(platform.arch)","os":"\#(platform.os)","config":{"Labels":{"fixture":"\#(label)","nonce":"\#(UUID().uuidString)"}},"rootfs":{"type":"layers","diff_ids":[\#(diffIDList)]}}"#.utf8)
        let configDigest = ContentHasher.digest(of: config)
        blobs[configDigest] = config
        let configType = format == .oci ? MediaType.ociConfig.value : MediaType.dockerConfig.value
        let manifestType = format == .oci ? MediaType.ociManifest.value : MediaType.dockerManifest.value
        let manifest = Array(#"{"schemaVersion":2,"mediaType":"\#(manifestType)","config":{"mediaType":"\#(configType)","digest":"\#(configDigest)","size":\#(config.count)},"layers":[\#(layerDescriptors.joined(separator: ","))]}"#.utf8)
        return ImageFixture(manifest: manifest, mediaType: manifestType, digest: ContentHasher.digest(of: manifest), blobs: blobs, children: [])
    }

    /// A multi-platform index (OCI) or manifest list (Docker) over images of each platform.
    public static func index(format: Format = .oci, platforms: [(os: String, arch: String)], layerSize: Int = 64 << 10, label: String = "multi") throws -> ImageFixture {
        var children: [ImageFixture] = []
        var entries: [String] = []
        for platform in platforms {
            let child = try image(format: format, layers: [.gzipRandom(layerSize)], platform: platform, label: "\(label)-\(platform.arch)")
            children.append(child)
            entries.append(#"{"mediaType":"\#(child.mediaType)","digest":"\#(child.digest)","size":\#(child.manifest.count),"platform":{"architecture":"\#(platform.arch)","os":"\#(platform.os)"}}"#)
        }
        let type = format == .oci ? MediaType.ociIndex.value : MediaType.dockerManifestList.value
        let manifest = Array(#"{"schemaVersion":2,"mediaType":"\#(type)","manifests":[\#(entries.joined(separator: ","))]}"#.utf8)
        return ImageFixture(manifest: manifest, mediaType: type, digest: ContentHasher.digest(of: manifest), blobs: [:], children: children)
    }

    /// Every blob of the image and its children.
    public var allBlobs: [Digest: [UInt8]] {
        children.reduce(into: blobs) { all, child in all.merge(child.allBlobs) { a, _ in a } }
    }

    /// A layer's bytes, its media type, and its diff ID (the digest of the uncompressed tar).
    static func layerBytes(_ content: LayerContent, format: Format, name: String) throws -> ([UInt8], String, Digest) {
        let plainType = format == .oci ? MediaType.ociLayerTar.value : "application/vnd.docker.image.rootfs.diff.tar"
        switch content {
        case .random(let size):
            let tar = Tar.single(name: "\(name).bin", content: randomBytes(size))
            return (tar, plainType, ContentHasher.digest(of: tar))
        case .text(let size):
            var text = [UInt8]()
            text.reserveCapacity(size)
            var line = 0
            while text.count < size {
                text.append(contentsOf: "line \(line) of \(name): the quick brown fox jumps over the lazy dog\n".utf8)
                line += 1
            }
            let tar = Tar.single(name: "\(name).txt", content: Array(text.prefix(size)))
            return (tar, plainType, ContentHasher.digest(of: tar))
        case .gzipRandom(let size):
            let tar = Tar.single(name: "\(name).bin", content: randomBytes(size))
            let gz = try gzip(tar)
            return (gz, format == .oci ? MediaType.ociLayerGzip.value : MediaType.dockerLayerGzip.value, ContentHasher.digest(of: tar))
        }
    }

    public static func randomBytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        if let handle = FileHandle(forReadingAtPath: "/dev/urandom") {
            let data = handle.readData(ofLength: count)
            handle.closeFile()
            out = Array(data)
        }
        return out
    }

    static func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
        let dir = makeTempDirectory("gzip")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/layer.tar"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let (status, output) = try runCommand(which("gzip") ?? "/bin/gzip", ["-1", "-n", path])
        guard status == 0 else { throw TestSupportError("gzip failed: \(output)") }
        return Array(try Data(contentsOf: URL(fileURLWithPath: path + ".gz")))
    }
}

/// A minimal ustar writer: one regular file.
enum Tar {
    static func single(name: String, content: [UInt8]) -> [UInt8] {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ s: String, _ offset: Int, _ length: Int) {
            for (i, b) in s.utf8.prefix(length).enumerated() { header[offset + i] = b }
        }
        func octal(_ v: Int, _ length: Int) -> String {
            let s = String(v, radix: 8)
            return String(repeating: "0", count: max(0, length - 1 - s.count)) + s
        }
        put(name, 0, 100)
        put(octal(0o644, 8), 100, 8)
        put(octal(0, 8), 108, 8)
        put(octal(0, 8), 116, 8)
        put(octal(content.count, 12), 124, 12)
        put(octal(0, 12), 136, 12)
        put("        ", 148, 8)
        header[156] = UInt8(ascii: "0")
        put("ustar", 257, 6)
        put("00", 263, 2)
        let checksum = header.reduce(0) { $0 + Int($1) }
        put(octal(checksum, 7) + "\0", 148, 8)
        var out = header
        out.append(contentsOf: content)
        let pad = (512 - content.count % 512) % 512
        out.append(contentsOf: repeatElement(0, count: pad + 1024))
        return out
    }
}
