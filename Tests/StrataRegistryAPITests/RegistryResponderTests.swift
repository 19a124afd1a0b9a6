import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOPosix
import StrataCore
import StrataMirror
import StrataStore
import StrataTesting
import StrataUpstream
import Testing
@testable import StrataRegistryAPI

/// The registry routes through Hummingbird's router test client (no socket), over an
/// engine whose one tier is an in-process fake registry: status codes, the spec's error
/// bodies, headers, ranges, loops.
@Suite(.serialized) struct RegistryResponderTests {
    static let http = TestHTTPClient.shared

    static func app(upstream: String) throws -> some ApplicationProtocol {
        var logger = Logger(label: "responder-test")
        logger.logLevel = .critical
        let store = BlobStore(root: makeTempDirectory("responder"))
        try store.prepare()
        let chain = TierChain([UpstreamTier(name: .canonical, client: RegistryClient(baseURL: upstream, http: http, logger: logger))])
        let local = DiskContentStore(blobs: store, index: try CacheIndex(), logger: logger)
        let engine = MirrorEngine(local: local, configuration: MirrorConfiguration(chains: ["docker.io": chain]), logger: logger)
        return Application(responder: RegistryResponder(engine: engine, logger: logger, instanceID: "unit"), logger: logger)
    }

    static func errorCode(_ body: ByteBuffer) -> String? {
        struct Body: Decodable { struct E: Decodable { let code: String }; let errors: [E] }
        return (try? JSONDecoder().decode(Body.self, from: Data(body.readableBytesView)))?.errors.first?.code
    }

    @Test func errorsHaveTheSpecBodyAndStatus() async throws {
        let upstream = FaultyRegistry(fault: .none)
        try await upstream.start()
        defer { upstream.stop() }
        try await Self.app(upstream: upstream.url).test(.router) { client in
            try await client.execute(uri: "/v2/", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[HTTPField.Name("Docker-Distribution-Api-Version")!] == "registry/2.0")
            }
            try await client.execute(uri: "/v2/Bad..Name/manifests/1", method: .get) { response in
                #expect(response.status == .badRequest)
                #expect(Self.errorCode(response.body) == "NAME_INVALID")
            }
            try await client.execute(uri: "/v2/library/x/manifests/1", method: .put) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "GET, HEAD")
                #expect(Self.errorCode(response.body) == "UNSUPPORTED")
            }
            try await client.execute(uri: "/v2/library/x/blobs/\(ContentHasher.digest(of: [1]))", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(Self.errorCode(response.body) == "BLOB_UNKNOWN")
            }
            try await client.execute(uri: "/v2/library/x/manifests/1?ns=quay.io", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(Self.errorCode(response.body) == "NAME_UNKNOWN")
            }
            try await client.execute(uri: "/v2/library/x/manifests/1", method: .get, headers: [.via: "1.1 strata-unit"]) { response in
                #expect(response.status.code == 508)
                #expect(Self.errorCode(response.body) == "LOOP_DETECTED")
            }
        }
    }

    @Test func blobsAnswerRangesAndManifestHeads() async throws {
        let blob = ImageFixture.randomBytes(4000)
        let digest = ContentHasher.digest(of: blob)
        let manifest = Array(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#.utf8)
        let manifestDigest = ContentHasher.digest(of: manifest)
        let upstream = FaultyRegistry(blobs: [digest: blob], manifests: ["1": (MediaType.ociIndex.value, manifest),
                                                                          manifestDigest.description: (MediaType.ociIndex.value, manifest)], fault: .none)
        try await upstream.start()
        defer { upstream.stop() }
        try await Self.app(upstream: upstream.url).test(.router) { client in
            try await client.execute(uri: "/v2/library/x/blobs/\(digest)", method: .get) { response in
                #expect(response.status == .ok)
                #expect(Array(response.body.readableBytesView) == blob)
            }
            try await client.execute(uri: "/v2/library/x/blobs/\(digest)", method: .get, headers: [.range: "bytes=10-19"]) { response in
                #expect(response.status == .partialContent)
                #expect(response.headers[.contentRange] == "bytes 10-19/4000")
                #expect(Array(response.body.readableBytesView) == Array(blob[10..<20]))
                #expect(response.headers[HTTPField.Name("X-Strata-Tier")!] == "local")
            }
            try await client.execute(uri: "/v2/library/x/blobs/\(digest)", method: .get, headers: [.range: "bytes=4000-"]) { response in
                #expect(response.status == .rangeNotSatisfiable)
                #expect(response.headers[.contentRange] == "bytes */4000")
                #expect(Self.errorCode(response.body) == "RANGE_INVALID")
            }
            try await client.execute(uri: "/v2/library/x/manifests/1", method: .head, headers: [.accept: MediaType.ociIndex.value]) { response in
                #expect(response.status == .ok)
                #expect(response.headers[HTTPField.Name("Docker-Content-Digest")!] == manifestDigest.description)
                #expect(response.headers[.contentLength] == String(manifest.count))
                #expect(response.body.readableBytes == 0)
            }
        }
    }
}
