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
        /// nil for `HEAD`.
        let body: ByteBuffer?
        let record: LedgerRecord
        let info: Exchange.Info
    }

    /// The answer to a request that the cache holds in memory (a manifest by digest, or by
    /// a fresh tag), made without waiting, so that the connection's event loop can send it;
    /// nil when the request needs the routes (anything else, a login to check with bcrypt,
    /// a `Connection` header to honour, an error to report).
    ///
    /// It resolves the request as the routes do (``resolve(method:uri:headers:)``), takes
    /// the hit from ``MirrorEngine/manifestInMemory(registry:repository:reference:accept:)``,
    /// which the routes' engine call answers first, and sends the same headers.
    func answerFromMemory(_ request: HTTPRequest, client: String, time: Date) -> MemoryAnswer? {
        guard request.method == .get || request.method == .head, request.headerFields[.connection] == nil,
              let target = request.path else { return nil }
        if let authenticator, !authenticator.isRemembered(request.headerFields[.authorization]) { return nil }
        let uri = URI(target)
        guard let resolved = try? resolve(method: request.method, uri: uri, headers: request.headerFields),
              case .manifest(let name, let reference) = resolved.path else { return nil }
        let accept = ManifestAccept.parsing(request.headerFields[values: .accept])
        guard let result = engine.manifestInMemory(registry: resolved.registry, repository: name, reference: reference, accept: accept) else {
            return nil
        }
        var headers = Self.manifestHeaders(result)
        if let namespace = resolved.namespaceHeader { headers[Self.namespaceHeader] = namespace }
        headers[.date] = HTTPDate.now
        var info = Exchange.Info()
        info.kind = .manifest
        info.registry = resolved.registry
        info.repository = name.value
        info.reference = reference.description
        info.tier = result.tier.description
        info.tierPath = result.path
        let head = HTTPResponse(status: .ok, headerFields: headers)
        let record = Self.ledgerRecord(time: time, client: client, request.method, target: uri.description,
                                       headers: request.headerFields, status: head.status)
        return MemoryAnswer(head: head, body: request.method == .head ? nil : ByteBuffer(bytes: result.bytes), record: record, info: info)
    }

    /// The ledger record of an answer from memory, once it was written (or failed to be).
    func finishMemoryAnswer(_ answer: MemoryAnswer, seconds: Double, written: Bool) {
        ledger?.record(Self.finish(answer.record, answer.info, bytes: written ? Int64(answer.body?.readableBytes ?? 0) : 0,
                                   seconds: seconds, aborted: !written))
    }
}
