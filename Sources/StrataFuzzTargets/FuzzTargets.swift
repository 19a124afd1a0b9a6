import Foundation
import StrataConfig
import StrataCore
import StrataFrames

/// Every parser of network, disk or config input, as a fuzz target: a function from
/// arbitrary bytes that must neither trap nor break the parser's own promises (checked
/// with `precondition`, so a broken promise is a crash libFuzzer reports).
///
/// `Tests/fuzz.sh` runs them under libFuzzer; the unit tests replay the committed
/// corpus and every crash ever found (`Tests/Fuzz/`) through the same functions.
public enum FuzzTargets {
    public static let all: [String: @Sendable ([UInt8]) -> Void] = [
        "registry-path": registryPath,
        "digest": digest,
        "range": range,
        "accept": accept,
        "www-authenticate": wwwAuthenticate,
        "token-answer": tokenAnswer,
        "manifest": manifest,
        "header-numbers": headerNumbers,
        "frame-index": frameIndex,
        "zstd-frames": zstdFrames,
        "tar-header": tarHeader,
        "config": config,
        "ip-address": ipAddress,
        "s3-xml": s3XML,
        "peer-token": peerToken,
        "via": via,
        "tag-list": tagList,
        "referrers": referrers,
    ]

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    /// An object store's XML answers: what comes out is text taken from the input, never
    /// longer than it (an entity like `&#60;` may decode to `<`: that is text, not markup).
    static func s3XML(_ bytes: [UInt8]) {
        if let page = S3XML.listPage(bytes) {
            precondition(page.keys.allSatisfy { $0.utf8.count <= bytes.count }, "a key longer than the answer")
            precondition(page.keys.count <= bytes.count / 11, "more keys than <Key></Key> pairs fit")
        }
        if let seconds = S3XML.timestamp(text(bytes)) {
            precondition(seconds >= 0 && seconds < 253_402_301_000, "a time outside 1970...9999")
        }
        _ = S3XML.value(of: "UploadId", in: bytes)
        _ = S3XML.value(of: "Code", in: bytes)
    }

    /// Upstream referrers answers and manifests read for their `subject`: what parses
    /// writes back as JSON that parses to the same entries, and filtering only removes.
    static func referrers(_ bytes: [UInt8]) {
        if let index = ReferrersIndex(parsing: bytes) {
            precondition(ReferrersIndex(parsing: index.bytes) == index, "a referrers index does not round-trip")
            let filtered = index.filtered(artifactType: "application/vnd.dev.cosign.artifact.sig.v1+json")
            precondition(filtered.manifests.allSatisfy { index.manifests.contains($0) }, "filtering added an entry")
        }
        let digest = ContentHasher.digest(of: bytes)
        if let (_, entry) = ReferrersIndex.referrer(manifest: bytes, digest: digest) {
            precondition(entry.digest == digest && entry.size == Int64(bytes.count), "a referrer entry that is not the manifest's")
        }
    }

    /// Upstream `tags/list` pages and their `Link` header: every tag listed is a valid tag
    /// found in the input, and a next page stays on the repository's own listing path.
    static func tagList(_ bytes: [UInt8]) {
        if let page = TagListPage(parsing: bytes) {
            precondition(page.tags.allSatisfy { (try? Tag($0.value)) != nil }, "an invalid tag listed")
            precondition(page.tags.count <= bytes.count / 3, "more tags than strings fit")
        }
        let repository = try! RepositoryName("library/fuzz")
        if let next = LinkHeader.nextPage(text(bytes), path: "/v2/\(repository.value)/tags/list") {
            precondition(next.hasPrefix("/v2/library/fuzz/tags/list"), "a next page off the listing path")
            precondition(!next.contains("#") && !next.contains(" "), "a next page with a fragment or a space")
        }
    }

    /// `X-Strata-Peer` values: what parses is an expiry and a 32-byte MAC, and no value
    /// made without the key verifies.
    static func peerToken(_ bytes: [UInt8]) {
        let value = text(bytes)
        if let (expires, mac) = PeerToken.parse(value) {
            precondition(expires >= 0 && mac.count == 32, "a parsed token out of shape")
        }
        precondition(!PeerToken(secret: "fuzz").verify(value, path: "/v2/a/blobs/sha256:0", now: Date(timeIntervalSince1970: 1_800_000_000)),
                     "a value made without the key verified")
    }

    /// `Via` values: at most 8 hops, each a bounded `strata-` word found in the input.
    static func via(_ bytes: [UInt8]) {
        let value = text(bytes)
        let hops = ViaHeader.stratas(value)
        precondition(hops.count <= 8, "more than 8 hops")
        precondition(hops.allSatisfy { $0.hasPrefix("strata-") && $0.count <= 64 && value.contains($0) }, "a hop not in the value")
        _ = ViaHeader.names(value, instanceID: "fuzz")
    }

    /// Request paths: a parsed path names a valid repository and reference.
    static func registryPath(_ bytes: [UInt8]) {
        guard let parsed = try? RegistryPath(path: text(bytes)) else { return }
        switch parsed {
        case .manifest(let name, _), .blob(let name, _), .tagsList(let name), .blobUpload(let name), .referrers(let name, _):
            precondition((try? RepositoryName(name.value)) != nil, "a parsed name does not parse again")
        case .base, .catalog: break
        }
    }

    static func digest(_ bytes: [UInt8]) {
        guard let d = try? Digest(parsing: text(bytes)) else { return }
        precondition((try? Digest(parsing: d.description)) == d, "a digest does not round-trip")
    }

    /// `Range` against a size from the first 8 bytes: a partial range lies in the blob.
    static func range(_ bytes: [UInt8]) {
        guard bytes.count >= 8 else { return }
        var size: Int64 = 0
        for b in bytes.prefix(8) { size = size << 8 | Int64(b) }
        let header = text(Array(bytes.dropFirst(8)))
        switch ByteRangeRequest(header: header, size: size) {
        case .partial(let lower, let upper):
            precondition(lower >= 0 && lower < upper && upper <= size, "range \(lower)..<\(upper) outside \(size)")
        case .whole, .unsatisfiable: break
        }
    }

    static func accept(_ bytes: [UInt8]) {
        let accept = ManifestAccept(headers: text(bytes).split(separator: "\n").map(String.init))
        precondition(Set(accept.types).count == accept.types.count, "duplicate types")
        _ = accept.accepts(MediaType.ociIndex.value)
    }

    static func wwwAuthenticate(_ bytes: [UInt8]) {
        _ = AuthChallenge(header: text(bytes))
    }

    static func tokenAnswer(_ bytes: [UInt8]) {
        guard let answer = TokenAnswer(parsing: bytes) else { return }
        precondition(!answer.token.utf8.contains(where: { $0 < 0x21 || $0 > 0x7e }), "token with control bytes")
        precondition(answer.expiresIn >= 10 && answer.expiresIn <= 86400)
    }

    /// First line: the upstream's Content-Type; the rest: the body.
    static func manifest(_ bytes: [UInt8]) {
        let newline = bytes.firstIndex(of: 0x0a) ?? bytes.endIndex
        let contentType = text(Array(bytes[..<newline]))
        let body = newline < bytes.endIndex ? Array(bytes[(newline + 1)...]) : []
        if let type = try? ManifestCheck.mediaType(of: body, contentType: contentType) {
            precondition(!type.isEmpty)
        }
        if let references = try? ManifestReferences(parsing: body) {
            precondition(references.contentSize >= 0, "negative content size")
        }
    }

    static func headerNumbers(_ bytes: [UInt8]) {
        let value = text(bytes)
        if let length = HeaderNumbers.contentLength(value) {
            precondition(length >= 0 && length <= HeaderNumbers.maxSize)
        }
        if let total = HeaderNumbers.contentRangeTotal(value) {
            precondition(total >= 0 && total <= HeaderNumbers.maxSize)
        }
        if let (range, total) = HeaderNumbers.contentRange(value) {
            precondition(range.lowerBound >= 0 && !range.isEmpty && range.upperBound <= HeaderNumbers.maxSize + 1)
            precondition(total.map { range.upperBound <= $0 } ?? true, "a range past its total")
        }
        if let seconds = HeaderNumbers.retryAfter(value, now: Date(timeIntervalSince1970: 1_800_000_000)) {
            precondition(seconds >= 0 && seconds <= HeaderNumbers.maxRetryAfter)
        }
    }

    /// A parsed frame index describes frames that cover the blob, in order.
    static func frameIndex(_ bytes: [UInt8]) {
        guard let index = try? FrameIndex(parsing: bytes) else { return }
        precondition(index.frameCount == Int((index.uncompressedSize + Int64(index.frameSize) - 1) / Int64(index.frameSize)))
        // Every frame holds bytes: offsets rise strictly, so no frame length is zero or negative.
        precondition(zip(index.offsets, index.offsets.dropFirst()).allSatisfy { $0 < $1 }, "frame offsets do not rise")
        for (lower, upper) in [(0, index.uncompressedSize), (index.uncompressedSize / 2, index.uncompressedSize)] {
            let frames = index.frames(covering: lower, upper)
            precondition(frames.lowerBound >= 0 && frames.upperBound <= index.frameCount)
        }
        precondition(FrameIndex(frameSize: index.frameSize, uncompressedSize: index.uncompressedSize, offsets: index.offsets)
            .serialized() == bytes, "a frame index does not round-trip")
    }

    /// A stored blob's two files as the store reads them: `frames.idx` (parsed by
    /// ``FrameIndex``) and `data.zst`, decoded frame by frame over a few ranges. Input:
    /// a byte `n` (frames, 1...8), `n` little-endian `UInt16` frame lengths, a `UInt16`
    /// size of the last frame, then `data.zst`. Whatever the bytes, a read returns exactly
    /// the bytes asked for or fails; it never traps.
    static func zstdFrames(_ bytes: [UInt8]) {
        guard bytes.count >= 4 else { return }
        let count = Int(bytes[0] % 8) + 1
        guard bytes.count >= 1 + 2 * count + 2 else { return }
        func u16(_ at: Int) -> Int64 { Int64(bytes[at]) | Int64(bytes[at + 1]) << 8 }
        var offsets: [Int64] = [0]
        for i in 0..<count { offsets.append(offsets[i] + u16(1 + 2 * i)) }
        let frameSize = 1 << 16
        let last = max(1, u16(1 + 2 * count))
        let size = Int64(frameSize) * Int64(count - 1) + last
        let data = Array(bytes[(1 + 2 * count + 2)...])
        // Through the parser, as a read does: what it refuses is never decoded.
        guard let index = try? FrameIndex(parsing: FrameIndex(frameSize: frameSize, uncompressedSize: size, offsets: offsets).serialized()) else { return }
        for (lower, upper) in [(Int64(0), size), (size / 2, size), (0, min(size, 100)), (size - 1, size)] {
            guard let read = try? FrameDecoder.read(lower, upper, of: data, index: index) else { continue }
            precondition(read.count == Int(upper - lower), "a read returned \(read.count) bytes for \(upper - lower)")
        }
    }

    static func tarHeader(_ bytes: [UInt8]) {
        var block = Array(bytes.prefix(512))
        block += [UInt8](repeating: 0, count: 512 - block.count)
        guard let header = try? TarHeader(block: block) else { return }
        precondition(header.size >= 0 && header.size < 1 << 33)
    }

    static func config(_ bytes: [UInt8]) {
        guard let config = try? StrataConfiguration.parse(yaml: text(bytes)) else { return }
        precondition(config.tagTTL >= 0 && config.tagTTL <= ConfigValues.maxDuration)
        precondition((config.maxSize ?? 1) > 0)
        // Every duration must turn into milliseconds without trapping, as the server does.
        for seconds in [config.tagTTL, config.negativeTTL, config.referrersTTL, config.maxIdle, config.evictionInterval, config.prefetchRefresh,
                        config.connectTimeout, config.firstByteTimeout, config.breakerCoolOff, config.scrubInterval,
                        config.limits.headerTimeout, config.limits.idleTimeout, config.limits.upstreamRateWindow]
            + config.tiers.flatMap({ [$0.connectTimeout, $0.firstByteTimeout] }) {
            _ = Int64(seconds * 1000)
        }
    }

    static func ipAddress(_ bytes: [UInt8]) {
        _ = IPAddressClass(address: text(bytes))
    }
}
