import Foundation
import StrataCore
import Testing

@Suite struct PeerTokenTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let path = "/v2/library/a/blobs/sha256:" + String(repeating: "0", count: 64)

    @Test func aTokenVerifiesForItsPathWhileItLasts() {
        let token = PeerToken(secret: "secret").make(path: path, now: now)
        #expect(PeerToken(secret: "secret").verify(token, path: path, now: now))
        #expect(PeerToken(secret: "secret").verify(token, path: path, now: now.addingTimeInterval(299)))
        #expect(!PeerToken(secret: "secret").verify(token, path: path, now: now.addingTimeInterval(301)))
        #expect(!PeerToken(secret: "secret").verify(token, path: path + "1", now: now))
        #expect(!PeerToken(secret: "other").verify(token, path: path, now: now))
    }

    @Test func malformedValuesDoNotParse() {
        let mac = String(repeating: "ab", count: 32)
        #expect(PeerToken.parse("1800000300.\(mac)")?.expires == 1_800_000_300)
        for bad in ["", ".", "1800000300", "1800000300.", ".\(mac)", "-1.\(mac)", "18000003000000.\(mac)", "1800000300.\(mac)00",
                    "1800000300.\(mac.uppercased())", "1800000300.\(mac.dropLast())", "18 0.\(mac)", "1800000300.\(mac.dropLast(2))zz"] {
            #expect(PeerToken.parse(bad) == nil, "\(bad)")
        }
    }

    /// A token far in the future (a forged expiry) is refused even with a valid MAC shape.
    @Test func anExpiryTooFarAheadIsRefused() {
        let later = PeerToken(secret: "secret").make(path: path, now: now.addingTimeInterval(3600))
        #expect(!PeerToken(secret: "secret").verify(later, path: path, now: now))
    }
}
