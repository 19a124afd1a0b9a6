import Foundation

/// Whether bytes an upstream sent as a manifest are one: JSON of the shape its media
/// type promises. A matching digest proves only that the bytes are the ones asked for;
/// a captive portal that learned to send `Docker-Content-Digest` must still not get
/// its page stored and served as a manifest.
public enum ManifestCheck {
    public struct Failure: Error, Sendable, CustomStringConvertible, Equatable {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    static let v1Types: Set<String> = [
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
    ]
    static let imageTypes: Set<String> = [MediaType.ociManifest.value, MediaType.dockerManifest.value]
    static let indexTypes: Set<String> = [MediaType.ociIndex.value, MediaType.dockerManifestList.value]
    /// `Content-Type`s that say "some JSON" without naming a manifest type.
    static let genericJSON: Set<String> = ["", "application/json", "application/octet-stream", "text/plain"]

    /// Whether `type` is a manifest type this cache serves (image, index, or v1).
    public static func isManifestType(_ type: String) -> Bool {
        imageTypes.contains(type) || indexTypes.contains(type) || v1Types.contains(type)
    }

    /// The manifest's media type, once the bytes are checked against it. `contentType`
    /// is the upstream's header (parameters allowed).
    public static func mediaType(of bytes: [UInt8], contentType: String) throws(Failure) -> String {
        let header = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingSpaces().lowercased() } ?? ""
        let known = imageTypes.union(indexTypes).union(v1Types)
        guard known.contains(header) || genericJSON.contains(header) else {
            throw Failure("answered \(header.prefix(64)), not a manifest")
        }
        guard JSONDepth.isWithin(bytes) else { throw Failure("JSON nested too deep") }
        guard bytes.first.map({ $0 == UInt8(ascii: "{") || $0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 }) ?? false,
              let json = try? JSONSerialization.jsonObject(with: Data(bytes)), let object = json as? [String: Any] else {
            throw Failure("the body is not a JSON object")
        }
        let field = object["mediaType"]
        if field != nil, !(field is String) { throw Failure("mediaType is not a string") }
        let declared = field as? String
        var type: String
        if known.contains(header) {
            type = header
            // The body's own mediaType must agree with the header (v1 has none).
            if let declared, !v1Types.contains(header), declared != header {
                throw Failure("Content-Type \(header) but mediaType \(declared.prefix(100))")
            }
        } else if let declared, known.contains(declared) {
            type = declared
        } else if declared == nil, object["manifests"] != nil {
            type = MediaType.ociIndex.value
        } else if declared == nil, object["config"] != nil {
            type = MediaType.ociManifest.value
        } else if declared == nil, object["fsLayers"] != nil {
            type = "application/vnd.docker.distribution.manifest.v1+json"
        } else {
            throw Failure("not a manifest of any known type")
        }
        let schema = object["schemaVersion"] as? Int
        if v1Types.contains(type) {
            guard schema == 1, object["fsLayers"] is [Any] else { throw Failure("a v1 manifest without schemaVersion 1 and fsLayers") }
        } else if indexTypes.contains(type) {
            guard schema == 2, let manifests = object["manifests"] as? [Any], manifests.allSatisfy(isDescriptor) else {
                throw Failure("an index without schemaVersion 2 and a list of manifest descriptors")
            }
        } else {
            guard schema == 2, isDescriptor(object["config"] as Any), let layers = object["layers"] as? [Any],
                  layers.allSatisfy(isDescriptor) else {
                throw Failure("an image manifest without schemaVersion 2, a config and a list of layer descriptors")
            }
        }
        type = type.lowercased()
        return type
    }

    /// A descriptor: an object with a valid digest and a non-negative whole size.
    static func isDescriptor(_ value: Any) -> Bool {
        guard let d = value as? [String: Any], let digest = d["digest"] as? String, (try? Digest(parsing: digest)) != nil,
              let size = d["size"] as? Int, size >= 0 else { return false }
        return true
    }
}
