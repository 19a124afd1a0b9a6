import Foundation

/// The descriptors a manifest refers to: config and layers of an image manifest, or
/// the platform manifests of an index. Parsed leniently: unknown fields are ignored.
public struct ManifestReferences: Sendable, Equatable {
    public struct Descriptor: Sendable, Equatable {
        public let mediaType: String
        public let digest: Digest
        public let size: Int64
        /// `os/arch[/variant]` for entries of an index.
        public let platform: String?
    }

    public let config: Descriptor?
    public let layers: [Descriptor]
    public let manifests: [Descriptor]

    public init(parsing bytes: [UInt8]) throws {
        guard JSONDepth.isWithin(bytes) else { throw ValidationError.mediaTypeInvalid("manifest JSON nested too deep") }
        guard let object = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw ValidationError.mediaTypeInvalid("manifest is not a JSON object")
        }
        func descriptor(_ value: Any?) -> Descriptor? {
            guard let d = value as? [String: Any], let digestText = d["digest"] as? String,
                  let digest = try? Digest(parsing: digestText) else { return nil }
            // Only a whole, non-negative number is a size (`int64Value` of 1e300 is not).
            let size = (d["size"] as? Int).flatMap { $0 >= 0 ? Int64($0) : nil } ?? 0
            var platform: String? = nil
            if let p = d["platform"] as? [String: Any], let os = p["os"] as? String, let arch = p["architecture"] as? String {
                platform = [os, arch, p["variant"] as? String].compactMap { $0 }.joined(separator: "/")
            }
            return Descriptor(mediaType: d["mediaType"] as? String ?? "", digest: digest, size: size, platform: platform)
        }
        config = descriptor(object["config"])
        layers = (object["layers"] as? [Any] ?? []).compactMap(descriptor)
        manifests = (object["manifests"] as? [Any] ?? []).compactMap(descriptor)
    }

    /// Bytes of the image this manifest describes: config plus layers (0 for an index).
    public var contentSize: Int64 {
        layers.reduce(config?.size ?? 0) { $0.saturatingAdd($1.size) }
    }
}
