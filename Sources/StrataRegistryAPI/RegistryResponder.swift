import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import StrataCore
import StrataMirror

/// The registry port: the OCI distribution pull API over the mirror engine.
///
/// Paths are parsed by ``RegistryPath`` (names contain `/`, so no router pattern fits);
/// every answer carries `X-Strata-Tier`, and every error the spec's JSON body.
public struct RegistryResponder: HTTPResponder {
    public typealias Context = BasicRequestContext

    let engine: MirrorEngine
    let logger: Logger

    public init(engine: MirrorEngine, logger: Logger) {
        self.engine = engine
        self.logger = logger
    }

    public func respond(to request: Request, context: Context) async throws -> Response {
        do {
            return try await route(request)
        } catch let error as RegistryError {
            return Self.errorResponse(error, head: request.method == .head)
        } catch let error as ValidationError {
            return Self.errorResponse(RegistryError(error.registryCode, error.description), head: request.method == .head)
        }
    }

    private func route(_ request: Request) async throws -> Response {
        guard let path = try RegistryPath(path: request.uri.path) else {
            throw RegistryError(.nameUnknown, "no such endpoint: \(request.uri.path)", status: 404)
        }
        let method = request.method
        if case .blobUpload = path {
            throw RegistryError(.unsupported, "this registry is a read-only mirror: push is not supported")
        }
        guard method == .get || method == .head else {
            throw RegistryError(.unsupported, "this registry is a read-only mirror: \(method.rawValue) is not supported")
        }
        let registry = try registryName(request)
        switch path {
        case .base:
            return Response(status: .ok, headers: Self.baseHeaders(contentType: "application/json"), body: .init(byteBuffer: ByteBuffer(string: "{}")))
        case .catalog:
            let all = try engine.repositories(registry: registry).map(\.value)
            let (page, next) = Self.page(all, request)
            var headers = Self.baseHeaders(contentType: "application/json")
            if let next { headers[HTTPField.Name("Link")!] = "</v2/_catalog?last=\(next)&n=\(page.count)>; rel=\"next\"" }
            let body = "{\"repositories\":[\(page.map(JSONString.quote).joined(separator: ","))]}"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
        case .tagsList(let name):
            let all = try engine.tags(registry: registry, repository: name).map(\.value)
            guard !all.isEmpty else { throw RegistryError(.nameUnknown, "repository \(name) has no cached tags") }
            let (page, next) = Self.page(all, request)
            var headers = Self.baseHeaders(contentType: "application/json")
            if let next { headers[HTTPField.Name("Link")!] = "</v2/\(name)/tags/list?last=\(next)&n=\(page.count)>; rel=\"next\"" }
            let body = "{\"name\":\(JSONString.quote(name.value)),\"tags\":[\(page.map(JSONString.quote).joined(separator: ","))]}"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
        case .manifest(let name, let reference):
            let accept = ManifestAccept(headers: request.headers[values: .accept])
            let result = try await engine.manifest(registry: registry, repository: name, reference: reference, accept: accept)
            var headers = Self.baseHeaders(contentType: result.mediaType)
            headers[.contentLength] = String(result.bytes.count)
            headers[HTTPField.Name("Docker-Content-Digest")!] = result.digest.description
            headers[.eTag] = "\"\(result.digest)\""
            headers[Self.tierHeader] = result.tier.description
            if result.stale { headers[HTTPField.Name("Warning")!] = "110 strata \"Response is stale\"" }
            if method == .head { return Response(status: .ok, headers: headers, body: .init()) }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: result.bytes)))
        case .blob(let name, let digest):
            return try await blob(request, registry: registry, name: name, digest: digest)
        case .blobUpload:
            throw RegistryError(.unsupported, "push is not supported")
        }
    }

    private func blob(_ request: Request, registry: String, name: RepositoryName, digest: Digest) async throws -> Response {
        let head = request.method == .head
        let result = try await engine.blob(registry: registry, repository: name, digest: digest, headOnly: head)
        var headers = Self.baseHeaders(contentType: "application/octet-stream")
        headers[HTTPField.Name("Docker-Content-Digest")!] = digest.description
        headers[.eTag] = "\"\(digest)\""
        headers[.acceptRanges] = "bytes"
        let size: Int64?
        switch result {
        case .stored(let reader):
            size = reader.blob.size
            headers[Self.tierHeader] = TierName.cache.description
        case .filling(let fill, let total):
            size = total
            headers[Self.tierHeader] = fill.tier.description
        case .upstreamHead(let total, let tier):
            size = total
            headers[Self.tierHeader] = tier.description
        }
        var range = ByteRangeRequest.whole
        if let size, !head { range = ByteRangeRequest(header: request.headers[.range], size: size) }
        var status = HTTPResponse.Status.ok
        var lower: Int64 = 0
        var upper: Int64? = size
        switch range {
        case .whole:
            if let size { headers[.contentLength] = String(size) }
        case .partial(let l, let u):
            status = .partialContent
            lower = l
            upper = u
            headers[.contentLength] = String(u - l)
            headers[.contentRange] = "bytes \(l)-\(u - 1)/\(size ?? 0)"
        case .unsatisfiable:
            headers[.contentRange] = "bytes */\(size ?? 0)"
            var error = Self.errorResponse(RegistryError(.rangeInvalid, "range not satisfiable for a blob of \(size ?? 0) bytes"), head: false)
            error.headers[.contentRange] = "bytes */\(size ?? 0)"
            return error
        }
        if head { return Response(status: status, headers: headers, body: .init()) }
        let contentLength = headers[.contentLength].flatMap { Int($0) }
        let from = lower, to = upper
        let body: ResponseBody
        switch result {
        case .stored(let reader):
            body = ResponseBody(contentLength: contentLength) { writer in
                try await reader.read(from, to ?? reader.blob.size) { try await writer.write($0) }
                try await writer.finish(nil)
            }
        case .filling(let fill, _):
            let log = logger
            body = ResponseBody(contentLength: contentLength) { writer in
                do {
                    try await fill.read(from: from, to: to) { try await writer.write($0) }
                } catch {
                    // Cut the client off: finishing would pass off a partial or bad body as whole.
                    log.warning("blob response aborted", metadata: ["digest": "\(digest)", "error": "\(error)"])
                    throw error
                }
                try await writer.finish(nil)
            }
        case .upstreamHead:
            body = .init()
        }
        return Response(status: status, headers: headers, body: body)
    }

    /// The registry a request is for: containerd's `?ns=`, else the default.
    private func registryName(_ request: Request) throws -> String {
        guard let ns = request.uri.queryParameters["ns"].map(String.init), !ns.isEmpty else {
            return engine.configuration.defaultRegistry
        }
        let allowed = ns.utf8.allSatisfy { b in
            (b >= 0x61 && b <= 0x7a) || (b >= 0x41 && b <= 0x5a) || (b >= 0x30 && b <= 0x39) || b == 0x2e || b == 0x2d || b == 0x3a
        }
        guard allowed, ns.count <= 253 else { throw RegistryError(.nameInvalid, "invalid ns parameter") }
        return ns.lowercased()
    }

    static let tierHeader = HTTPField.Name("X-Strata-Tier")!

    static func baseHeaders(contentType: String) -> HTTPFields {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        headers[HTTPField.Name("Docker-Distribution-Api-Version")!] = "registry/2.0"
        return headers
    }

    static func errorResponse(_ error: RegistryError, head: Bool) -> Response {
        var headers = baseHeaders(contentType: "application/json")
        let body = ByteBuffer(string: error.jsonBody)
        headers[.contentLength] = String(body.readableBytes)
        if error.code == .unsupported { headers[.allow] = "GET, HEAD" }
        return Response(status: .init(code: error.status), headers: headers, body: head ? .init() : .init(byteBuffer: body))
    }

    /// `n`/`last` paging over a sorted list. Returns the page and the last item when more follow.
    static func page(_ all: [String], _ request: Request) -> ([String], String?) {
        var items = all
        if let last = request.uri.queryParameters["last"].map(String.init), !last.isEmpty {
            items = items.filter { $0 > last }
        }
        guard let n = request.uri.queryParameters["n"].flatMap({ Int($0) }), n >= 0, n < items.count else { return (items, nil) }
        let page = Array(items.prefix(n))
        return (page, page.last)
    }
}
