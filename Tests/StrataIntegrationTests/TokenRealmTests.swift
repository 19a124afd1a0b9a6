import AsyncHTTPClient
import Foundation
import StrataCore
import StrataServer
import StrataTesting
import Testing

extension Integration {
    /// The `realm` of a `WWW-Authenticate: Bearer` challenge is a URL an upstream chose:
    /// it goes where a redirect may go, and a tier's password goes only to that tier's
    /// own realm. (The whole suite runs in a network namespace with only loopback, so a
    /// broken policy cannot reach the addresses these tests name.)
    @Suite struct TokenRealm {
        static let password = "s3cret-tier-password"
        static var basic: String { "Basic " + Data("tier-user:\(password)".utf8).base64EncodedString() }

        /// A tier behind a bearer challenge naming `realm`, with credentials configured for
        /// its own origin (and `realms`), and Strata in front of it.
        static func strata(realm: (_ tierURL: String) -> String, realms: [String] = []) async throws
            -> (tier: FaultyRegistry, strata: StrataInstance, digest: Digest, bytes: [UInt8]) {
            let bytes = ImageFixture.randomBytes(20_000)
            let digest = ContentHasher.digest(of: bytes)
            let port = FreePort.next()
            let tier = FaultyRegistry(blobs: [digest: bytes], fault: .bearerChallenge(realm: realm("http://127.0.0.1:\(port)")), port: port)
            try await tier.start()
            let strata = try await StrataInstance.start(canonical: tier.url, configure: {
                $0.credentials = ["127.0.0.1:\(tier.port)": .init(username: "tier-user", password: password, realms: realms)]
            })
            return (tier, strata, digest, bytes)
        }

        @Test func aRealmOnAnotherPortGetsNoPassword() async throws {
            let recorder = FaultyRegistry(fault: .bearerChallenge(realm: "unused"))
            try await recorder.start()
            defer { recorder.stop() }
            let (tier, strata, digest, bytes) = try await Self.strata(realm: { _ in "\(recorder.url)/token" })
            defer { tier.stop(); Task { await strata.stop() } }
            let answer = try await fetch("\(strata.url)/v2/library/realm/blobs/\(digest)")
            #expect(answer.status == 200 && answer.body == bytes)
            // The token was asked for anonymously; the password never left for the other port.
            #expect(recorder.requestCount >= 1)
            #expect(recorder.authorizations.allSatisfy { $0 == nil }, "\(recorder.authorizations)")
            #expect(!tier.authorizations.contains { $0 == Self.basic }, "the tier itself took no Basic login either")
        }

        @Test func theTiersOwnRealmAndAConfiguredOneGetThePassword() async throws {
            let own = try await Self.strata(realm: { $0 + "/token" })
            defer { own.tier.stop(); Task { await own.strata.stop() } }
            #expect(try await fetch("\(own.strata.url)/v2/library/realm/blobs/\(own.digest)").status == 200)
            #expect(own.tier.authorizations.contains { $0 == Self.basic }, "\(own.tier.authorizations)")

            let recorder = FaultyRegistry(fault: .bearerChallenge(realm: "unused"))
            try await recorder.start()
            defer { recorder.stop() }
            let named = try await Self.strata(realm: { _ in "\(recorder.url)/token" }, realms: [recorder.url])
            defer { named.tier.stop(); Task { await named.strata.stop() } }
            #expect(try await fetch("\(named.strata.url)/v2/library/realm/blobs/\(named.digest)").status == 200)
            #expect(recorder.authorizations.contains { $0 == Self.basic }, "\(recorder.authorizations)")
        }

        @Test(arguments: [
            "http+unix://%2Fvar%2Frun%2Fdocker.sock/token",
            "http://169.254.169.254/latest/meta-data/token",
            "http://[fe80::1]/token",
            "file:///etc/passwd",
        ])
        func aRealmOutsideTheRedirectPolicyIsNotFetched(_ realm: String) async throws {
            let (tier, strata, digest, _) = try await Self.strata(realm: { _ in realm })
            defer { tier.stop(); Task { await strata.stop() } }
            let answer = try await fetch("\(strata.url)/v2/library/realm/blobs/\(digest)")
            #expect(answer.status == 503)
            let ledger = String(decoding: try await fetch("\(strata.adminURL)/api/requests").body, as: UTF8.self)
            #expect(ledger.contains("redirect_refused") && ledger.contains("token realm"), "\(ledger)")
            #expect(!ledger.contains(Self.password))
        }
    }
}
