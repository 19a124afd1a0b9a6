#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore
import StrataCore
import StrataMirror

extension RegistryResponder {
    /// A response made without waiting, and its ledger record to finish once it is written.
    struct MemoryAnswer {
        let head: HTTPResponse
        /// The body in memory; nil for `HEAD` and for a file.
        let body: ByteBuffer?
        /// A blob's raw file, open, and the bytes of it to send with sendfile.
        let file: (descriptor: Int32, offset: Int64, length: Int64)?
        let record: LedgerRecord
        let info: Exchange.Info

        /// The body's bytes.
        var length: Int64 { file?.length ?? Int64(body?.readableBytes ?? 0) }
    }

    /// The answer to a request that the cache holds in memory, made without waiting, so
    /// that the connection's event loop can send it: a manifest by digest or by a fresh
    /// tag, and (where the connection sends files, `files`) a large raw blob, whole or a
    /// range. nil when the request needs the routes: anything else, a login to check with
    /// bcrypt, a `Connection` header to honour, an error to report.
    ///
    /// It resolves the request as the routes do (``resolve(method:uri:headers:)``), takes
    /// the hit from the engine's memory lookups, which the routes' engine calls answer
    /// first, and sends the same headers.
    func answerFromMemory(_ request: HTTPRequest, client: String, time: Date, files: Bool) -> MemoryAnswer? {
        guard request.method == .get || request.method == .head, request.headerFields[.connection] == nil,
              let target = request.path else { return nil }
        if let authenticator, !authenticator.isRemembered(request.headerFields[.authorization]) { return nil }
        let uri = URI(target)
        guard let resolved = try? resolve(method: request.method, uri: uri, headers: request.headerFields) else { return nil }
        var info = Exchange.Info()
        info.registry = resolved.registry
        let status: HTTPResponse.Status
        var headers: HTTPFields
        var body: ByteBuffer?
        var file: (descriptor: Int32, offset: Int64, length: Int64)?
        switch resolved.path {
        case .manifest(let name, let reference):
            let accept = ManifestAccept.parsing(request.headerFields[values: .accept])
            guard let result = engine.manifestInMemory(registry: resolved.registry, repository: name, reference: reference, accept: accept) else {
                return nil
            }
            (info.kind, info.repository, info.reference) = (.manifest, name.value, reference.description)
            (info.tier, info.tierPath) = (result.tier.description, result.path)
            status = .ok
            headers = Self.manifestHeaders(result)
            if request.method == .get { body = ByteBuffer(bytes: result.bytes) }
        case .blob(let name, let digest) where files:
            guard let (blob, descriptor) = engine.openStoredBlobInMemory(digest) else { return nil }
            let range = request.method == .head ? .whole : ByteRangeRequest(header: request.headerFields[.range], size: blob.size)
            headers = Self.blobHeaders(digest)
            headers[Self.tierHeader] = TierName.local.description
            headers[Self.pathHeader] = TierName.local.description
            var lower: Int64 = 0, upper = blob.size
            switch range {
            case .whole:
                status = .ok
            case .partial(let l, let u):
                (status, lower, upper) = (.partialContent, l, u)
                headers[.contentRange] = "bytes \(l)-\(u - 1)/\(blob.size)"
            case .unsatisfiable:
                close(descriptor)
                return nil
            }
            headers[.contentLength] = String(upper - lower)
            if request.method == .get {
                file = (descriptor, lower, upper - lower)
            } else {
                close(descriptor)
            }
            (info.kind, info.repository, info.reference) = (.blob, name.value, digest.description)
            (info.tier, info.tierPath) = (TierName.local.description, [TierName.local.description])
        default:
            return nil
        }
        if let namespace = resolved.namespaceHeader { headers[Self.namespaceHeader] = namespace }
        headers[.date] = HTTPDate.now
        let head = HTTPResponse(status: status, headerFields: headers)
        let record = Self.ledgerRecord(time: time, client: client, request.method, target: uri.description,
                                       headers: request.headerFields, status: head.status)
        return MemoryAnswer(head: head, body: body, file: file, record: record, info: info)
    }

    /// The ledger record of an answer from memory, once it was written (or failed to be).
    func finishMemoryAnswer(_ answer: MemoryAnswer, seconds: Double, written: Bool) {
        ledger?.record(Self.finish(answer.record, answer.info, bytes: written ? answer.length : 0,
                                   seconds: seconds, aborted: !written))
    }
}
