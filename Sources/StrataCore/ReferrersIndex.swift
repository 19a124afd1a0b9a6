import Foundation

/// The answer of the OCI 1.1 referrers API (`GET /v2/<name>/referrers/<digest>`): an
/// image index whose entries are the manifests that name a subject (signatures, SBOMs,
/// attestations), each with its `artifactType` and annotations.
///
/// Parsed from an upstream's answer (checked: every entry a descriptor with a valid
/// digest and size), filtered by `artifactType` here, and written back as canonical JSON.
public struct ReferrersIndex: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public let mediaType: String
        public let digest: Digest
        public let size: Int64
        public let artifactType: String?
        public let annotations: [String: String]?

        public init(mediaType: String, digest: Digest, size: Int64, artifactType: String?, annotations: [String: String]?) {
            self.mediaType = mediaType
            self.digest = digest
            self.size = size
            self.artifactType = artifactType
            self.annotations = annotations
        }
    }

    public let manifests: [Entry]

    /// Where a cache keeps a subject's list: under this registry name (never a real
    /// one: `~` is not allowed in a host), ...
    public static func registryName(for registry: String) -> String { registry + "~referrers" }

    /// ... and this tag (the tag schema's `<algorithm>-<hex>`, at most 128 characters).
    public static func tagName(for subject: Digest) -> Tag {
        // Always valid: a lowercase algorithm name, a dash and hex digits.
        try! Tag("\(subject.algorithm.rawValue)-\(subject.hex.prefix(120))")
    }

    public init(manifests: [Entry]) {
        self.manifests = manifests
    }

    private struct WireEntry: Codable {
        let mediaType: String
        let digest: String
        let size: Int64
        let artifactType: String?
        let annotations: [String: String]?
    }

    private struct Wire: Codable {
        var schemaVersion = 2
        var mediaType = MediaType.ociIndex.value
        let manifests: [WireEntry]
    }

    /// nil unless an object whose `manifests` (absent: none) are all descriptors.
    public init?(parsing bytes: [UInt8]) {
        struct Loose: Decodable { let manifests: [WireEntry]? }
        guard JSONDepth.isWithin(bytes, limit: 8), let wire = try? JSONDecoder().decode(Loose.self, from: Data(bytes)) else { return nil }
        var entries: [Entry] = []
        for entry in wire.manifests ?? [] {
            guard let digest = try? Digest(parsing: entry.digest), entry.size >= 0, entry.size <= HeaderNumbers.maxSize,
                  !entry.mediaType.isEmpty else { return nil }
            entries.append(Entry(mediaType: entry.mediaType, digest: digest, size: entry.size, artifactType: entry.artifactType,
                                 annotations: entry.annotations))
        }
        self.manifests = entries
    }

    /// Most entries a kept list holds: a list a registry made huge (200,000 entries, 37 MB)
    /// must not make every cached answer cost seconds, nor outgrow what a replica reads
    /// back from the bucket.
    public static let maxEntries = 10_000
    /// Most bytes a kept list's encoding holds.
    public static let maxBytes = 4 << 20

    /// The list cut to ``maxEntries`` and ``maxBytes`` (the first entries, in the order
    /// the tier listed them), and whether anything was cut.
    public func bounded(maxEntries: Int = Self.maxEntries, maxBytes: Int = Self.maxBytes) -> (index: ReferrersIndex, cut: Bool) {
        var kept = Array(manifests.prefix(maxEntries))
        // Entries differ in size (annotations): measure, and cut in proportion until it fits.
        var size = ReferrersIndex(manifests: kept).bytes.count
        while size > maxBytes, !kept.isEmpty {
            let target = Int(Double(kept.count) * Double(maxBytes) / Double(size) * 0.98)
            kept = Array(kept.prefix(min(max(0, target), kept.count - 1)))
            size = ReferrersIndex(manifests: kept).bytes.count
        }
        return (ReferrersIndex(manifests: kept), kept.count < manifests.count)
    }

    /// Only the entries of `artifactType` (all of them for nil).
    public func filtered(artifactType: String?) -> ReferrersIndex {
        guard let artifactType else { return self }
        return ReferrersIndex(manifests: manifests.filter { $0.artifactType == artifactType })
    }

    /// The index as JSON, keys sorted.
    public var bytes: [UInt8] {
        let wire = Wire(manifests: manifests.map {
            WireEntry(mediaType: $0.mediaType, digest: $0.digest.description, size: $0.size, artifactType: $0.artifactType, annotations: $0.annotations)
        })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(wire)) ?? Data())
    }

    /// The subject a manifest names, and the entry it makes in that subject's referrers
    /// list (`artifactType`, else the config's media type, as the spec says); nil for a
    /// manifest without `subject`.
    public static func referrer(manifest bytes: [UInt8], digest: Digest) -> (subject: Digest, entry: Entry)? {
        struct Descriptor: Decodable { let mediaType: String?; let digest: String }
        struct Manifest: Decodable {
            let mediaType: String?
            let artifactType: String?
            let config: Descriptor?
            let subject: Descriptor?
            let annotations: [String: String]?
        }
        guard JSONDepth.isWithin(bytes), let manifest = try? JSONDecoder().decode(Manifest.self, from: Data(bytes)),
              let subjectText = manifest.subject?.digest, let subject = try? Digest(parsing: subjectText) else { return nil }
        return (subject, Entry(mediaType: manifest.mediaType ?? MediaType.ociManifest.value, digest: digest, size: Int64(bytes.count),
                               artifactType: manifest.artifactType ?? manifest.config?.mediaType, annotations: manifest.annotations))
    }
}
