/// A media type (`type/subtype`, RFC 6838 characters), without parameters.
public struct MediaType: Hashable, Sendable, CustomStringConvertible {
    public let value: String

    public init(_ string: String) throws(ValidationError) {
        let base = string.split(separator: ";", maxSplits: 1).first.map { $0.trimmingSpaces() } ?? ""
        let parts = base.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy(Self.isRestrictedName) else { throw .mediaTypeInvalid(string) }
        self.value = base.lowercased()
    }

    private init(known: String) { self.value = known }

    public var description: String { value }

    /// `[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}`
    private static func isRestrictedName(_ s: Substring) -> Bool {
        let bytes = Array(s.utf8)
        guard (1...127).contains(bytes.count) else { return false }
        func alnum(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7a) || (b >= 0x41 && b <= 0x5a) || (b >= 0x30 && b <= 0x39) }
        guard alnum(bytes[0]) else { return false }
        return bytes.dropFirst().allSatisfy { alnum($0) || "!#$&^_.+-".utf8.contains($0) }
    }

    public static let ociManifest = MediaType(known: "application/vnd.oci.image.manifest.v1+json")
    public static let ociIndex = MediaType(known: "application/vnd.oci.image.index.v1+json")
    public static let dockerManifest = MediaType(known: "application/vnd.docker.distribution.manifest.v2+json")
    public static let dockerManifestList = MediaType(known: "application/vnd.docker.distribution.manifest.list.v2+json")
    public static let ociConfig = MediaType(known: "application/vnd.oci.image.config.v1+json")
    public static let dockerConfig = MediaType(known: "application/vnd.docker.container.image.v1+json")
    public static let ociLayerTar = MediaType(known: "application/vnd.oci.image.layer.v1.tar")
    public static let ociLayerGzip = MediaType(known: "application/vnd.oci.image.layer.v1.tar+gzip")
    public static let dockerLayerGzip = MediaType(known: "application/vnd.docker.image.rootfs.diff.tar.gzip")

    /// The manifest types a mirror asks for when the client names none.
    public static let allManifestTypes: [MediaType] = [.ociIndex, .ociManifest, .dockerManifestList, .dockerManifest]

    /// Whether `type` is a multi-platform index (OCI index or Docker manifest list).
    public static func isIndex(_ type: String) -> Bool {
        type == ociIndex.value || type == dockerManifestList.value
    }

}

extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return s
    }
}
