import Foundation
import StrataCore
import Testing
@testable import StrataUpstream

@Suite struct RedirectPolicyTests {
    @Test func schemes() {
        for scheme in ["http", "https", "HTTPS"] {
            #expect(RedirectPolicy.decide(scheme: scheme, target: [.public], origin: [.public]) == .allow)
        }
        for scheme in ["http+unix", "file", "ftp", "unix", "gopher", nil] {
            #expect(RedirectPolicy.decide(scheme: scheme, target: [.public], origin: [.public]) != .allow, "\(scheme ?? "nil")")
        }
    }

    @Test func addresses() {
        // Never link-local or unusable, whoever redirects.
        for origin: IPAddressClass in [.public, .private, .loopback] {
            #expect(RedirectPolicy.decide(scheme: "http", target: [.linkLocal], origin: [origin]) != .allow)
            #expect(RedirectPolicy.decide(scheme: "http", target: [.unusable], origin: [origin]) != .allow)
            #expect(RedirectPolicy.decide(scheme: "http", target: [.public, .linkLocal], origin: [origin]) != .allow)
        }
        // Inward only from an upstream that is itself inside.
        #expect(RedirectPolicy.decide(scheme: "https", target: [.private], origin: [.public]) != .allow)
        #expect(RedirectPolicy.decide(scheme: "https", target: [.loopback], origin: [.public]) != .allow)
        #expect(RedirectPolicy.decide(scheme: "https", target: [.private], origin: [.private]) == .allow)
        #expect(RedirectPolicy.decide(scheme: "http", target: [.loopback], origin: [.loopback]) == .allow)
        #expect(RedirectPolicy.decide(scheme: "http", target: [.private], origin: [.public, .private]) == .allow)
        // A target that does not resolve is not followed.
        #expect(RedirectPolicy.decide(scheme: "http", target: [], origin: [.public]) != .allow)
    }

    @Test func resolvesLiteralsAndNames() async {
        #expect(await RedirectPolicy.check(from: URL(string: "http://127.0.0.1:5000"), to: URL(string: "http://169.254.169.254/x")!) != .allow)
        #expect(await RedirectPolicy.check(from: URL(string: "http://127.0.0.1:5000"), to: URL(string: "http://[::ffff:169.254.169.254]/x")!) != .allow)
        #expect(await RedirectPolicy.check(from: URL(string: "http://127.0.0.1:5000"), to: URL(string: "http://localhost:9/x")!) == .allow)
        #expect(await RedirectPolicy.check(from: URL(string: "http://8.8.8.8"), to: URL(string: "http://localhost:9/x")!) != .allow)
        #expect(await RedirectPolicy.check(from: URL(string: "http://8.8.8.8"), to: URL(string: "http+unix://%2Frun%2Fx.sock/")!) != .allow)
    }
}
