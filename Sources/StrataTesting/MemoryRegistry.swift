import NIOConcurrencyHelpers
import NIOCore
import StrataCore
import StrataUpstream

/// A registry in memory, as a ``ContentSource``: manifests by tag and digest, blobs,
/// and the faults a test wants (down, a body that breaks, wrong bytes). What it was
/// asked is counted, so a test can assert how many upstream requests a pull made.
public final class MemoryRegistry: ContentSource {
    public enum Fault: Sendable, Equatable {
        case none
        /// Every request fails as a network error would.
        case down
        /// Blob bodies end after this many bytes (of the whole blob).
        case truncate(after: Int64)
        /// Blob bodies have one byte changed.
        case wrongBytes
        /// The next `times` blob bodies end after `after` bytes of their own (a connection
        /// that breaks now and then); later ones are whole.
        case breaks(times: Int, after: Int64)
    }

    private struct State {
        var manifests: [String: (mediaType: String, bytes: [UInt8])] = [:]
        var blobs: [Digest: [UInt8]] = [:]
        var referrers: [Digest: ReferrersIndex] = [:]
        var fault: Fault = .none
        var requests: [String] = []
        var blobOffsets: [Int64] = []
        var blobRanges: [Range<Int64>] = []
        var servesRanges = false
        var answersByAccept = false
        var rejected: [Digest] = []
        var gate: [CheckedContinuation<Void, Never>]? = nil
    }

    private let state = NIOLockedValueBox(State())
    public let location: String

    public init(_ name: String = "memory") {
        self.location = "memory://\(name)"
    }

    /// Adds a manifest under its digest and, if given, a tag.
    public func addManifest(_ bytes: [UInt8], mediaType: String, tag: String? = nil) {
        let digest = ContentHasher.digest(of: bytes)
        state.withLockedValue { s in
            s.manifests[digest.description] = (mediaType, bytes)
            if let tag { s.manifests[tag] = (mediaType, bytes) }
        }
    }

    /// Makes the referrers API answer for `subject` (without, it answers 404: not supported).
    public func setReferrers(_ index: ReferrersIndex, for subject: Digest) {
        state.withLockedValue { $0.referrers[subject] = index }
    }

    /// Deletes a tag, as `DELETE /v2/<name>/manifests/<tag>` would; the manifest stays.
    public func removeTag(_ tag: String) {
        _ = state.withLockedValue { $0.manifests.removeValue(forKey: tag) }
    }

    public func addBlob(_ bytes: [UInt8]) {
        state.withLockedValue { $0.blobs[ContentHasher.digest(of: bytes)] = bytes }
    }

    public func setFault(_ fault: Fault) {
        state.withLockedValue { $0.fault = fault }
    }

    /// The digests whose bytes from here the engine found wrong (``deliveredBadBytes(_:)``).
    public var rejected: [Digest] { state.withLockedValue { $0.rejected } }

    public func deliveredBadBytes(_ digest: Digest) async {
        state.withLockedValue { $0.rejected.append(digest) }
    }

    /// Requests answered so far, as `HEAD manifest 1`, `GET blob sha256:...`.
    public var requests: [String] { state.withLockedValue { $0.requests } }
    /// The range of every ranged blob `GET` (parts of a parallel fill).
    public var blobRanges: [Range<Int64>] { state.withLockedValue { $0.blobRanges } }

    /// Answers manifests by the request's `Accept` as distribution does: a manifest whose
    /// type the request does not name (and no `*/*`) is `404` (a list is not rewritten).
    public func answerByAccept(_ on: Bool = true) {
        state.withLockedValue { $0.answersByAccept = on }
    }

    /// Says `Accept-Ranges` and answers ranged `GET`s (parallel fills use them).
    public func serveRanges(_ on: Bool = true) {
        state.withLockedValue { $0.servesRanges = on }
    }

    /// The offset of every blob `GET` (0, or where a resume started).
    public var blobOffsets: [Int64] { state.withLockedValue { $0.blobOffsets } }

    /// Blob `GET`s wait until ``openGate()`` (to line up concurrent clients on one fill).
    public func closeGate() {
        state.withLockedValue { if $0.gate == nil { $0.gate = [] } }
    }

    public func openGate() {
        let waiters = state.withLockedValue { s in defer { s.gate = nil }; return s.gate ?? [] }
        waiters.forEach { $0.resume() }
    }

    private func begin(_ request: String) throws(UpstreamError) -> Fault {
        let fault = state.withLockedValue { s in
            s.requests.append(request)
            return s.fault
        }
        if fault == .down { throw UpstreamError(.transport, "\(location) is down") }
        return fault
    }

    private func lookup(_ reference: Reference, accept: [String]) throws(UpstreamError) -> (mediaType: String, bytes: [UInt8]) {
        guard let (found, byAccept) = state.withLockedValue({ s in s.manifests[reference.description].map { ($0, s.answersByAccept) } }) else {
            throw UpstreamError(.notFound, status: 404, "manifest \(reference) not found")
        }
        if byAccept, !accept.isEmpty, !accept.contains(found.mediaType), !accept.contains("*/*") {
            throw UpstreamError(.notFound, status: 404, "manifest \(reference) is \(found.mediaType), not accepted")
        }
        return found
    }

    public func headManifest(_ repository: RepositoryName, _ reference: Reference, accept: [String], via: String?) async throws(UpstreamError) -> UpstreamManifestHead {
        _ = try begin("HEAD manifest \(reference)")
        let found = try lookup(reference, accept: accept)
        return UpstreamManifestHead(digest: ContentHasher.digest(of: found.bytes), mediaType: found.mediaType, size: Int64(found.bytes.count))
    }

    public func getManifest(_ repository: RepositoryName, _ reference: Reference, accept: [String], via: String?) async throws(UpstreamError) -> UpstreamManifest {
        _ = try begin("GET manifest \(reference)")
        let found = try lookup(reference, accept: accept)
        return UpstreamManifest(bytes: found.bytes, mediaType: found.mediaType, digestHeader: ContentHasher.digest(of: found.bytes))
    }

    public func getReferrers(_ repository: RepositoryName, _ subject: Digest, via: String?) async throws(UpstreamError) -> UpstreamReferrers {
        _ = try begin("GET referrers \(subject)")
        guard let index = state.withLockedValue({ $0.referrers[subject] }) else {
            throw UpstreamError(.notFound, status: 404, "referrers API not supported")
        }
        return UpstreamReferrers(index: index)
    }

    public func listTags(_ repository: RepositoryName, via: String?) async throws(UpstreamError) -> UpstreamTagList {
        _ = try begin("GET tags")
        let tags = state.withLockedValue { $0.manifests.keys.compactMap { try? Tag($0) } }.sorted()
        guard !tags.isEmpty else { throw UpstreamError(.notFound, status: 404, "repository \(repository) not found") }
        return UpstreamTagList(tags: tags)
    }

    public func headBlob(_ repository: RepositoryName, _ digest: Digest, via: String?) async throws(UpstreamError) -> Int64? {
        _ = try begin("HEAD blob \(digest)")
        guard let bytes = state.withLockedValue({ $0.blobs[digest] }) else { throw UpstreamError(.notFound, status: 404, "blob \(digest) not found") }
        return Int64(bytes.count)
    }

    public func getBlob(_ repository: RepositoryName, _ digest: Digest, from offset: Int64, via: String?) async throws(UpstreamError) -> UpstreamBlob {
        let fault = try begin("GET blob \(digest)")
        await waitForGate()
        guard var bytes = state.withLockedValue({ $0.blobs[digest] }) else { throw UpstreamError(.notFound, status: 404, "blob \(digest) not found") }
        state.withLockedValue { $0.blobOffsets.append(offset) }
        if fault == .wrongBytes, !bytes.isEmpty { bytes[bytes.count / 2] ^= 0xff }
        var end = Int64(bytes.count)
        if case .truncate(let after) = fault { end = min(end, after) }
        if case .breaks(let times, let after) = fault {
            end = min(end, offset + after)
            state.withLockedValue { $0.fault = times > 1 ? .breaks(times: times - 1, after: after) : .none }
        }
        // A truncated body just ends short, as a cut connection does.
        let body = Self.body(Array(bytes[Int(min(offset, end))..<Int(end)]))
        return UpstreamBlob(totalSize: Int64(bytes.count), offset: offset, body: body, remotePath: [],
                            acceptsRanges: state.withLockedValue { $0.servesRanges })
    }

    public func getBlob(_ repository: RepositoryName, _ digest: Digest, range: Range<Int64>, via: String?) async throws(UpstreamError) -> UpstreamBlob {
        let fault = try begin("GET blob \(digest) \(range.lowerBound)-\(range.upperBound)")
        guard state.withLockedValue({ $0.servesRanges }) else { throw UpstreamError(.invalidResponse, "no ranges here") }
        guard var bytes = state.withLockedValue({ $0.blobs[digest] }) else { throw UpstreamError(.notFound, status: 404, "blob \(digest) not found") }
        guard range.lowerBound >= 0, range.upperBound <= Int64(bytes.count), !range.isEmpty else { throw UpstreamError(.invalidResponse, "bad range") }
        state.withLockedValue { $0.blobRanges.append(range) }
        if fault == .wrongBytes { bytes[Int(range.lowerBound)] ^= 0xff }
        var end = range.upperBound
        if case .breaks(let times, let after) = fault {
            end = min(end, range.lowerBound + after)
            state.withLockedValue { $0.fault = times > 1 ? .breaks(times: times - 1, after: after) : .none }
        }
        let body = Self.body(Array(bytes[Int(range.lowerBound)..<Int(end)]))
        return UpstreamBlob(totalSize: Int64(bytes.count), offset: range.lowerBound, body: body, remotePath: [], acceptsRanges: true)
    }

    /// A body handed on in 64 KiB parts.
    static func body(_ part: [UInt8]) -> PushedBlobStream {
        PushedBlobStream { emit in
            var at = 0
            while at < part.count {
                let next = min(part.count, at + 65_536)
                try await emit(ByteBuffer(bytes: part[at..<next]))
                at = next
            }
        }
    }

    private func waitForGate() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLockedValue { s -> Bool in
                guard s.gate != nil else { return true }
                s.gate?.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }
}
