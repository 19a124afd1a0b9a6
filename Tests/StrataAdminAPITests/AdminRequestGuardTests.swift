import Testing
@testable import StrataAdminAPI

@Suite struct AdminRequestGuardTests {
    let loopback = AdminRequestGuard(listenHost: "127.0.0.1", tokenRequired: false)

    @Test func readsNeedAnOwnHost() {
        for host in ["127.0.0.1:5050", "localhost:5050", "[::1]:5050", "LOCALHOST", "strata.localhost:5050", "127.0.0.2"] {
            #expect(loopback.refusal(method: "GET", host: host, origin: nil, contentType: nil, fetchSite: nil) == nil, "\(host)")
        }
        for host in ["evil.example:5050", "10.0.0.1:5050", "", "127.0.0.1.evil.example", "[::2]:5050"] {
            #expect(loopback.refusal(method: "GET", host: host, origin: nil, contentType: nil, fetchSite: nil) != nil, "\(host)")
        }
        #expect(loopback.refusal(method: "GET", host: nil, origin: nil, contentType: nil, fetchSite: nil) != nil)
        let lan = AdminRequestGuard(listenHost: "10.0.0.5", tokenRequired: true)
        #expect(lan.refusal(method: "GET", host: "10.0.0.5:5050", origin: nil, contentType: nil, fetchSite: nil) == nil)
        #expect(lan.refusal(method: "GET", host: "evil.example", origin: nil, contentType: nil, fetchSite: nil) != nil)
        // All interfaces behind a token: the token is the guard, any name may reach it.
        let wildcard = AdminRequestGuard(listenHost: "0.0.0.0", tokenRequired: true)
        #expect(wildcard.refusal(method: "GET", host: "strata.lan:5050", origin: nil, contentType: nil, fetchSite: nil) == nil)
    }

    @Test func writesNeedJSONAndTheirOwnOrigin() {
        let host = "127.0.0.1:5050"
        #expect(loopback.refusal(method: "POST", host: host, origin: nil, contentType: "application/json", fetchSite: nil) == nil)
        #expect(loopback.refusal(method: "POST", host: host, origin: "http://127.0.0.1:5050", contentType: "application/json; charset=utf-8", fetchSite: "same-origin") == nil)
        #expect(loopback.refusal(method: "POST", host: host, origin: nil, contentType: "text/plain", fetchSite: nil) != nil)
        #expect(loopback.refusal(method: "POST", host: host, origin: nil, contentType: nil, fetchSite: nil) != nil)
        #expect(loopback.refusal(method: "POST", host: host, origin: "http://evil.example", contentType: "application/json", fetchSite: nil) != nil)
        #expect(loopback.refusal(method: "POST", host: host, origin: "null", contentType: "application/json", fetchSite: nil) != nil)
        #expect(loopback.refusal(method: "POST", host: host, origin: "http://127.0.0.1:5051", contentType: "application/json", fetchSite: nil) != nil)
        #expect(loopback.refusal(method: "POST", host: host, origin: nil, contentType: "application/json", fetchSite: "cross-site") != nil)
        #expect(loopback.refusal(method: "DELETE", host: host, origin: nil, contentType: "text/plain", fetchSite: nil) != nil)
    }
}
