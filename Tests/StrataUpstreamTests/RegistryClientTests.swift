import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOPosix
import StrataCore
import StrataTesting
import Testing
@testable import StrataUpstream

/// The registry client against the in-process fake registry: auth, redirects, error
/// mapping, hostile lengths and the minimum rate. No real registry, well under a second each.
@Suite(.serialized) struct RegistryClientTests {
    static let http = TestHTTPClient.shared

    static func client(_ url: String, credentials: Credentials? = nil, minimumRate: StreamedReply.MinimumRate? = nil) -> RegistryClient {
        var logger = Logger(label: "registry-client-test")
        logger.logLevel = .critical
        return RegistryClient(baseURL: url, credentials: credentials, http: http, logger: logger, minimumRate: minimumRate)
    }

    static func running(_ registry: FaultyRegistry) async throws -> FaultyRegistry {
        try await registry.start()
        return registry
    }

    static func body(_ blob: UpstreamBlob) async throws -> [UInt8] {
        let collected = NIOLockedBytes()
        try await blob.body.stream { chunk in
            collected.append(chunk)
            return nil
        }
        return collected.bytes
    }

    let repo: RepositoryName

    init() throws {
        repo = try RepositoryName("library/x")
    }

    @Test func basicAuthIsSentAfterTheChallengeAndOnlyThen() async throws {
        let bytes = ImageFixture.randomBytes(1000)
        let digest = ContentHasher.digest(of: bytes)
        let upstream = try await Self.running(FaultyRegistry(blobs: [digest: bytes], fault: .none, requireBasic: ("u", "p")))
        defer { upstream.stop() }
        let with = Self.client(upstream.url, credentials: Credentials(username: "u", password: "p"))
        #expect(try await Self.body(with.getBlob(repo, digest)) == bytes)
        #expect(upstream.authorizations.first == .some(nil))
        #expect(upstream.authorizations.last == "Basic dTpw")
        // Without credentials: a clean `unauthorized`, not a crash (issue 11, item 2).
        let without = Self.client(upstream.url)
        await #expect(throws: UpstreamError.self) { try await without.headBlob(repo, digest) }
        let tag = try Tag("1")
        do {
            _ = try await without.getManifest(repo, .tag(tag), accept: [])
            Issue.record("a manifest came without credentials")
        } catch {
            #expect(error.kind == .unauthorized)
        }
    }

    @Test func statusesMapToKinds() async throws {
        for (status, kind) in [(404, UpstreamError.Kind.notFound), (403, .unauthorized), (500, .serverError), (508, .loop)] {
            let upstream = try await Self.running(FaultyRegistry(fault: .status(status, retryAfter: nil)))
            defer { upstream.stop() }
            do {
                _ = try await Self.client(upstream.url).headBlob(repo, ContentHasher.digest(of: [1]))
                Issue.record("\(status) did not throw")
            } catch {
                #expect(error.kind == kind, "\(status)")
            }
        }
        let limited = try await Self.running(FaultyRegistry(fault: .status(429, retryAfter: "Wed, 21 Oct 2099 07:28:00 GMT")))
        defer { limited.stop() }
        do {
            _ = try await Self.client(limited.url).headBlob(repo, ContentHasher.digest(of: [1]))
            Issue.record("429 did not throw")
        } catch {
            #expect(error.kind == .rateLimited)
            #expect(error.retryAfter == HeaderNumbers.maxRetryAfter)
        }
    }

    @Test func redirectsDropAuthorizationOnAnotherHostAndFollowThePolicy() async throws {
        let bytes = ImageFixture.randomBytes(5000)
        let digest = ContentHasher.digest(of: bytes)
        let cdn = try await Self.running(FaultyRegistry(blobs: [digest: bytes], fault: .none))
        defer { cdn.stop() }
        let registry = try await Self.running(FaultyRegistry(blobs: [digest: bytes], fault: .redirect(to: cdn.url), requireBasic: ("u", "p")))
        defer { registry.stop() }
        let client = Self.client(registry.url, credentials: Credentials(username: "u", password: "p"))
        #expect(try await Self.body(client.getBlob(repo, digest)) == bytes)
        #expect(cdn.authorizations.allSatisfy { $0 == nil }, "the registry's Authorization reached another host")
        let socket = try await Self.running(FaultyRegistry(blobs: [digest: bytes], fault: .redirectLocation("http+unix://%2Frun%2Fx.sock/")))
        defer { socket.stop() }
        do {
            _ = try await Self.client(socket.url).getBlob(repo, digest)
            Issue.record("a redirect to a socket was followed")
        } catch {
            #expect(error.kind == .redirectRefused)
        }
    }

    @Test func hostileLengthsAndUnhonouredRangesAreInvalidAnswers() async throws {
        let bytes = ImageFixture.randomBytes(5000)
        let digest = ContentHasher.digest(of: bytes)
        let lying = try await Self.running(FaultyRegistry(blobs: [digest: bytes], fault: .lyingLength(Int64.max)))
        defer { lying.stop() }
        do {
            _ = try await Self.client(lying.url).getBlob(repo, digest)
            Issue.record("Content-Length: Int64.max was taken")
        } catch {
            #expect(error.kind == .invalidResponse)
        }
        // A resume with Range that the tier answers with the whole body.
        let wrong = try await Self.running(FaultyRegistry(blobs: [digest: bytes], fault: .wrongBytes))
        defer { wrong.stop() }
        do {
            _ = try await Self.client(wrong.url).getBlob(repo, digest, from: 100)
            Issue.record("an unhonoured Range was taken")
        } catch {
            #expect(error.kind == .invalidResponse)
        }
        let good = try await Self.running(FaultyRegistry(blobs: [digest: bytes], fault: .none))
        defer { good.stop() }
        let resumed = try await Self.client(good.url).getBlob(repo, digest, from: 100)
        #expect(resumed.totalSize == 5000)
        #expect(try await Self.body(resumed) == Array(bytes[100...]))
    }

    @Test func aDripBelowTheMinimumRateIsAbandoned() async throws {
        let bytes = ImageFixture.randomBytes(64 << 10)
        let digest = ContentHasher.digest(of: bytes)
        let drip = try await Self.running(FaultyRegistry(blobs: [digest: bytes], fault: .drip(bytes: 10, interval: .milliseconds(100))))
        defer { drip.stop() }
        let client = Self.client(drip.url, minimumRate: .init(bytesPerSecond: 10_000, window: .milliseconds(300)))
        let start = ContinuousClock.now
        do {
            _ = try await Self.body(client.getBlob(repo, digest))
            Issue.record("the drip was read to the end")
        } catch let error as UpstreamError {
            #expect(error.kind == .tooSlow)
            #expect(error.message.contains("slower than"))
        }
        #expect(ContinuousClock.now - start < .seconds(3))
    }
}

/// Bytes collected from a sink that runs on an event loop.
final class NIOLockedBytes: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [UInt8] = []
    func append(_ buffer: ByteBuffer) { lock.lock(); storage += buffer.readableBytesView; lock.unlock() }
    var bytes: [UInt8] { lock.lock(); defer { lock.unlock() }; return storage }
}
