import Foundation
import NIOCore
import StrataCore

/// Export and import of cached images as an OCI image layout in a tar file: how an
/// air-gapped site is seeded.
///
/// ```
/// oci-layout                    {"imageLayoutVersion":"1.0.0"}
/// index.json                    one entry per image, named by org.opencontainers.image.ref.name
///                               (docker.io/library/alpine:3.20)
/// blobs/sha256/<hex>            every manifest, platform manifest, config and layer
///                               (with referrers: every cached signature, SBOM and
///                               attestation that names one of the image's manifests)
/// ```
///
/// Import rebuilds each image's referrers lists from the `subject` of the manifests it
/// brings, so the referrers API answers for them at the air-gapped site.
public struct ImageBundle: Sendable {
    public struct Report: Sendable, Equatable {
        public var images = 0
        public var blobs = 0
        public var bytes: Int64 = 0
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    let store: BlobStore
    let index: CacheIndex

    public init(store: BlobStore, index: CacheIndex) {
        self.store = store
        self.index = index
    }

    // MARK: Export

    /// Writes `images` (as cached) to an OCI layout tar at `path`; with `withReferrers`,
    /// also the cached manifests (and their blobs) the referrers lists of its manifests name.
    ///
    /// A multi-platform image must be cached for every platform its index lists, or be
    /// exported for one `platform` (`linux/amd64`): then that platform's manifest is the
    /// image in the bundle. An index that names manifests the bundle lacks would make
    /// the bundle unusable (`skopeo copy --all` fails on it).
    public func export(_ images: [ImageReference], to path: String, withReferrers: Bool = false, platform: String? = nil) async throws -> Report {
        var entries: [String] = []
        var digests: [Digest] = []
        var seen = Set<Digest>()
        for image in images {
            var root: Digest
            var mediaType: String
            switch image.reference {
            case .tag(let tag):
                guard let row = try index.tag(registry: image.registry, repository: image.repository, tag: tag) else {
                    throw Failure("\(image) is not cached (pull or prefetch it first)")
                }
                root = row.digest
                mediaType = row.mediaType
            case .digest(let digest):
                root = digest
                mediaType = try index.blob(digest)?.mediaType ?? ""
            }
            guard var blob = store.lookup(root) else { throw Failure("\(image) is not cached (pull or prefetch it first)") }
            if mediaType.isEmpty { mediaType = MediaType.ociManifest.value }
            if let chosen = try await platformManifest(of: root, image: image, platform: platform) {
                guard let child = store.lookup(chosen.digest) else { throw Failure("\(image) is not cached (pull or prefetch it first)") }
                (root, mediaType, blob) = (chosen.digest, chosen.mediaType.isEmpty ? MediaType.ociManifest.value : chosen.mediaType, child)
            }
            try await collect(root, image: image, withReferrers: withReferrers, into: &digests, seen: &seen)
            entries.append(#"{"mediaType":\#(JSONString.quote(mediaType)),"digest":"\#(root)","size":\#(blob.size),"annotations":{"org.opencontainers.image.ref.name":\#(JSONString.quote(image.description))}}"#)
        }
        let tar = try TarWriter(path: path)
        try tar.file("oci-layout", bytes: Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8))
        try tar.file("index.json", bytes: Array(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[\#(entries.joined(separator: ","))]}"#.utf8))
        try tar.directory("blobs")
        try tar.directory("blobs/sha256")
        var report = Report(images: images.count)
        for digest in digests {
            let reader = try store.open(digest)
            try tar.beginFile("blobs/\(digest.algorithm.rawValue)/\(digest.hex)", size: reader.blob.size)
            try await reader.read(0, reader.blob.size) { buffer in try tar.write(buffer.readableBytesView) }
            try tar.finishEntry(size: reader.blob.size)
            report.blobs += 1
            report.bytes += reader.blob.size
        }
        try tar.close()
        return report
    }

    private func collect(
        _ digest: Digest, image: ImageReference, withReferrers: Bool, into digests: inout [Digest], seen: inout Set<Digest>
    ) async throws {
        guard seen.insert(digest).inserted else { return }
        guard store.lookup(digest) != nil else { throw Failure("\(image) is not fully cached: \(digest) is missing (pull it again first)") }
        digests.append(digest)
        let bytes = try await store.readAll(digest)
        guard let references = try? ManifestReferences(parsing: bytes) else { throw Failure("\(digest) of \(image) is not a manifest") }
        for child in references.manifests {
            // An index may list platforms that were never pulled: export what is cached.
            if store.lookup(child.digest) != nil {
                try await collect(child.digest, image: image, withReferrers: withReferrers, into: &digests, seen: &seen)
            }
        }
        if withReferrers {
            // What the referrers API listed for this manifest, as far as it was cached.
            for referrer in try await keptReferrers(of: digest, image: image) where store.lookup(referrer) != nil {
                try await collect(referrer, image: image, withReferrers: true, into: &digests, seen: &seen)
            }
        }
        for blob in [references.config].compactMap({ $0 }) + references.layers {
            guard seen.insert(blob.digest).inserted else { continue }
            guard store.lookup(blob.digest) != nil else { throw Failure("\(image) is not fully cached: blob \(blob.digest) is missing (pull it again first)") }
            digests.append(blob.digest)
        }
    }

    /// For an index: the platform manifest to export instead (with `platform`), or nil to
    /// export the index, which every platform it lists must then be cached for.
    private func platformManifest(of root: Digest, image: ImageReference, platform: String?) async throws -> ManifestReferences.Descriptor? {
        guard let references = try? ManifestReferences(parsing: try await store.readAll(root)), !references.manifests.isEmpty else { return nil }
        let cached = references.manifests.filter { store.lookup($0.digest) != nil }
        let names = { (list: [ManifestReferences.Descriptor]) in list.map { $0.platform ?? "\($0.digest)" }.joined(separator: ", ") }
        if let platform {
            guard let match = cached.first(where: { $0.platform == platform || $0.platform?.hasPrefix(platform + "/") == true }) else {
                throw Failure("\(image) has no cached \(platform) manifest (cached: \(cached.isEmpty ? "none" : names(cached)))")
            }
            return match
        }
        let missing = references.manifests.filter { store.lookup($0.digest) == nil }
        guard missing.isEmpty else {
            throw Failure("\(image) is cached for \(cached.isEmpty ? "no platform" : names(cached)) only, not \(names(missing)): "
                          + "export one platform with --platform, or prefetch every platform first")
        }
        return nil
    }

    /// The manifests the cached referrers list of `subject` names (none when none is cached).
    private func keptReferrers(of subject: Digest, image: ImageReference) async throws -> [Digest] {
        guard let row = try index.tag(registry: ReferrersIndex.registryName(for: image.registry), repository: image.repository,
                                      tag: ReferrersIndex.tagName(for: subject)),
              store.lookup(row.digest) != nil,
              let list = ReferrersIndex(parsing: try await store.readAll(row.digest)) else { return [] }
        return list.manifests.map(\.digest)
    }

    // MARK: Import

    /// Loads an OCI layout tar into the cache, verifying every blob against its digest.
    /// Images named by `org.opencontainers.image.ref.name` become cached tags.
    public func importBundle(from path: String, now: Date = Date()) async throws -> Report {
        let tar = try TarReader(path: path)
        var report = Report()
        var indexJSON: [UInt8]? = nil
        var imported: [Digest] = []
        while let entry = try tar.next() {
            guard entry.isFile else { continue }
            if entry.name == "index.json" {
                guard entry.size < 16 << 20 else { throw Failure("index.json is too large") }
                indexJSON = Array(try tar.read(upTo: Int(entry.size)))
                continue
            }
            let parts = entry.name.split(separator: "/")
            guard parts.count == 3, parts[0] == "blobs", let algorithm = Digest.Algorithm(rawValue: String(parts[1])),
                  let digest = try? Digest(algorithm: algorithm, hex: String(parts[2])) else { continue }
            if store.lookup(digest) == nil {
                let writer = try store.makeWriter(algorithm: algorithm)
                while true {
                    let chunk = try tar.read(upTo: 1 << 20)
                    if chunk.isEmpty { break }
                    try writer.append(ByteBuffer(bytes: chunk))
                }
                do {
                    let blob = try await store.commit(writer, digest: digest, expectedSize: entry.size)
                    try index.recordBlob(blob, mediaType: nil, at: now)
                } catch let error as StoreError where error.isVerificationFailure {
                    throw Failure("\(entry.name) does not match its digest: \(error); nothing more was imported")
                }
            } else if let blob = store.lookup(digest), try index.blob(digest) == nil {
                try index.recordBlob(blob, mediaType: nil, at: now)
            }
            imported.append(digest)
            report.blobs += 1
            report.bytes += entry.size
        }
        guard let indexJSON else { throw Failure("\(path) is not an OCI image layout: no index.json") }
        guard JSONDepth.isWithin(indexJSON),
              let object = try JSONSerialization.jsonObject(with: Data(indexJSON)) as? [String: Any],
              let manifests = object["manifests"] as? [Any] else { throw Failure("index.json has no manifests") }
        // Manifests: the same check as a fill (the bytes are JSON of the shape their media
        // type promises), then their media types are recorded, so they can be served by
        // digest; and who refers to whom is gathered.
        var referrers: [Digest: [ReferrersIndex.Entry]] = [:]
        var children: [Digest: [Digest]] = [:]
        for digest in imported {
            guard let blob = store.lookup(digest), blob.size < 4 << 20, let bytes = try? await store.readAll(digest),
                  bytes.first == UInt8(ascii: "{"), let type = try? ManifestCheck.mediaType(of: bytes, contentType: "") else { continue }
            try index.recordBlob(blob, mediaType: type, at: now)
            if let (subject, entry) = ReferrersIndex.referrer(manifest: bytes, digest: digest), !(referrers[subject]?.contains(entry) ?? false) {
                referrers[subject, default: []].append(entry)
            }
            children[digest] = ((try? ManifestReferences(parsing: bytes))?.manifests ?? []).map(\.digest)
        }
        // Each entry of index.json on its own: its name and its digest come from the same
        // object, so an invalid entry cannot shift the names of the others.
        var images: [ImageReference: Digest] = [:]
        for case let entry as [String: Any] in manifests {
            guard let digestText = entry["digest"] as? String, let digest = try? Digest(parsing: digestText),
                  let name = (entry["annotations"] as? [String: Any])?["org.opencontainers.image.ref.name"] as? String,
                  let reference = ImageReference(parsing: name), store.lookup(digest) != nil,
                  let mediaType = try index.blob(digest)?.mediaType, ManifestCheck.isManifestType(mediaType) else { continue }
            try index.addManifest(.init(registry: reference.registry, repository: reference.repository, digest: digest,
                                        mediaType: mediaType, fetchedAt: now, tier: "import"))
            if case .tag(let tag) = reference.reference {
                try index.setTag(.init(registry: reference.registry, repository: reference.repository, tag: tag, digest: digest,
                                       mediaType: mediaType, fetchedAt: now, tier: "import"))
            }
            images[reference] = digest
            report.images += 1
        }
        try await restoreReferrers(of: images, referrers: referrers, children: children, now: now)
        return report
    }

    /// Writes the referrers list of every manifest of the imported images (their
    /// platforms, and the referrers themselves, which may have referrers) that a bundled
    /// manifest names as its subject, as the engine keeps lists it fetched: each list
    /// once per repository, whatever the number of images that reach it.
    private func restoreReferrers(
        of images: [ImageReference: Digest], referrers: [Digest: [ReferrersIndex.Entry]], children: [Digest: [Digest]], now: Date
    ) async throws {
        guard !referrers.isEmpty else { return }
        var written: Set<String> = []
        var lists: [Digest: (bytes: [UInt8], digest: Digest)] = [:]
        for (image, root) in images {
            let registry = ReferrersIndex.registryName(for: image.registry)
            var closure = [root]
            var seen: Set<Digest> = [root]
            var next = 0
            while next < closure.count {
                let digest = closure[next]
                next += 1
                for linked in (children[digest] ?? []) + (referrers[digest] ?? []).map(\.digest) where seen.insert(linked).inserted {
                    closure.append(linked)
                }
            }
            for subject in closure {
                guard let entries = referrers[subject], written.insert("\(registry)/\(image.repository.value)@\(subject)").inserted else { continue }
                let list: (bytes: [UInt8], digest: Digest)
                if let known = lists[subject] {
                    list = known
                } else {
                    let bytes = ReferrersIndex(manifests: entries).bytes
                    list = (bytes, ContentHasher.digest(of: bytes))
                    let blob = try await store.put(bytes, digest: list.digest)
                    try index.recordBlob(blob, mediaType: MediaType.ociIndex.value, at: now)
                    lists[subject] = list
                }
                try index.addManifest(.init(registry: registry, repository: image.repository, digest: list.digest,
                                            mediaType: MediaType.ociIndex.value, fetchedAt: now, tier: "import"))
                try index.setTag(.init(registry: registry, repository: image.repository, tag: ReferrersIndex.tagName(for: subject),
                                       digest: list.digest, mediaType: MediaType.ociIndex.value, fetchedAt: now, tier: "import"))
            }
        }
    }
}
