import AsyncHTTPClient
import Foundation
import NIOCore
import StrataCore

/// Pushes fixtures to a registry over the plain HTTP push API, byte for byte
/// (`POST` upload, `PUT ?digest=`, `PUT` manifest), so Docker-typed manifests arrive
/// exactly as built.
public struct RegistryPusher: Sendable {
    public let baseURL: String
    public let client: HTTPClient
    public let authorization: String?

    public init(baseURL: String, client: HTTPClient = .shared, authorization: String? = nil) {
        self.baseURL = baseURL
        self.client = client
        self.authorization = authorization
    }

    /// Pushes every blob, the child manifests, then the manifest under each tag.
    public func push(_ image: ImageFixture, repository: String, tags: [String]) async throws {
        for child in image.children {
            try await push(child, repository: repository, tags: [])
        }
        for (digest, bytes) in image.blobs {
            try await pushBlob(bytes, digest: digest, repository: repository)
        }
        try await putManifest(image, repository: repository, reference: image.digest.description)
        for tag in tags {
            try await putManifest(image, repository: repository, reference: tag)
        }
    }

    func pushBlob(_ bytes: [UInt8], digest: Digest, repository: String) async throws {
        var post = HTTPClientRequest(url: "\(baseURL)/v2/\(repository)/blobs/uploads/")
        post.method = .POST
        authorize(&post)
        let started = try await client.execute(post, timeout: .seconds(60))
        _ = try await started.body.collect(upTo: 1 << 20)
        guard started.status == .accepted, let location = started.headers.first(name: "Location") else {
            throw TestSupportError("upload start for \(repository) answered \(started.status)")
        }
        let absolute = location.hasPrefix("http") ? location : baseURL + location
        let separator = absolute.contains("?") ? "&" : "?"
        var put = HTTPClientRequest(url: "\(absolute)\(separator)digest=\(digest)")
        put.method = .PUT
        put.headers.add(name: "Content-Type", value: "application/octet-stream")
        put.body = .bytes(ByteBuffer(bytes: bytes))
        authorize(&put)
        let done = try await client.execute(put, timeout: .seconds(300))
        _ = try await done.body.collect(upTo: 1 << 20)
        guard done.status == .created else { throw TestSupportError("blob upload \(digest) answered \(done.status)") }
    }

    func putManifest(_ image: ImageFixture, repository: String, reference: String) async throws {
        var put = HTTPClientRequest(url: "\(baseURL)/v2/\(repository)/manifests/\(reference)")
        put.method = .PUT
        put.headers.add(name: "Content-Type", value: image.mediaType)
        put.body = .bytes(ByteBuffer(bytes: image.manifest))
        authorize(&put)
        let response = try await client.execute(put, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .created else {
            throw TestSupportError("manifest put \(repository):\(reference) answered \(response.status): \(String(buffer: body))")
        }
    }

    private func authorize(_ request: inout HTTPClientRequest) {
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
    }
}
