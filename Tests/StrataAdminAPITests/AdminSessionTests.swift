import Foundation
import NIOConcurrencyHelpers
import Testing
@testable import StrataAdminAPI

/// Sign-in sessions and the sign-in throttle, as values with an injected clock.
@Suite struct AdminSessionTests {
    final class Clock: Sendable {
        private let time = NIOLockedValueBox(Date(timeIntervalSince1970: 1_800_000_000))
        var now: Date { time.withLockedValue { $0 } }
        func advance(_ seconds: TimeInterval) { time.withLockedValue { $0 = $0.addingTimeInterval(seconds) } }
    }

    @Test func sessionsAreRandomExpireAndEnd() {
        let clock = Clock()
        let sessions = AdminSessions(lifetime: 3600, capacity: 3, now: { clock.now })
        let a = sessions.start(), b = sessions.start()
        #expect(a != b && a.count == 64 && sessions.isValid(a) && sessions.isValid(b))
        #expect(!sessions.isValid(String(repeating: "0", count: 64)) && !sessions.isValid("short"))
        sessions.end(a)
        #expect(!sessions.isValid(a) && sessions.isValid(b))
        clock.advance(3600)
        #expect(!sessions.isValid(b), "a session past its lifetime")
        // Bounded: the oldest of four goes.
        let c = sessions.start()
        clock.advance(1)
        let d = sessions.start()
        clock.advance(1)
        let e = sessions.start()
        clock.advance(1)
        let f = sessions.start()
        #expect(!sessions.isValid(c) && sessions.isValid(d) && sessions.isValid(e) && sessions.isValid(f))
    }

    @Test func failuresAreThrottledPerAddressAndToldOncePerBurst() {
        var throttle = LoginThrottle(allowed: 3, window: 60)
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(throttle.decide("10.0.0.1", now: t0) == .attempt)
        #expect(throttle.failed("10.0.0.1", now: t0) == .firstOfBurst)
        #expect(throttle.failed("10.0.0.1", now: t0.addingTimeInterval(1)) == .counted(failures: 2))
        #expect(throttle.decide("10.0.0.1", now: t0.addingTimeInterval(2)) == .attempt)
        #expect(throttle.failed("10.0.0.1", now: t0.addingTimeInterval(2)) == .counted(failures: 3))
        #expect(throttle.decide("10.0.0.1", now: t0.addingTimeInterval(10)) == .wait(seconds: 50))
        // Another address is not held back.
        #expect(throttle.decide("10.0.0.2", now: t0.addingTimeInterval(10)) == .attempt)
        // The window passed: a new burst, told again.
        #expect(throttle.decide("10.0.0.1", now: t0.addingTimeInterval(60)) == .attempt)
        #expect(throttle.failed("10.0.0.1", now: t0.addingTimeInterval(60)) == .firstOfBurst)
        throttle.succeeded("10.0.0.1")
        #expect(throttle.failed("10.0.0.1", now: t0.addingTimeInterval(61)) == .firstOfBurst)
    }
}
