import NIOConcurrencyHelpers
import Foundation
import StrataCore
import StrataTesting
import Testing
@testable import StrataUpstream

@Suite struct CircuitBreakerTests {
    let t0 = Date(timeIntervalSince1970: 1_000_000)

    @Test func opensAfterConsecutiveFailuresAndProbesOnceAfterTheCoolOff() {
        var breaker = CircuitBreaker(failureThreshold: 3, coolOff: 30)
        #expect(breaker.decide(now: t0) == .attempt)
        breaker.failed(now: t0)
        breaker.failed(now: t0)
        #expect(breaker.state == .closed(failures: 2))
        #expect(breaker.decide(now: t0) == .attempt)
        breaker.failed(now: t0)
        #expect(breaker.state == .open(until: t0.addingTimeInterval(30)))
        #expect(breaker.decide(now: t0.addingTimeInterval(29)) == .skip)
        // Cool-off over: exactly one probe; everyone else keeps skipping.
        #expect(breaker.decide(now: t0.addingTimeInterval(30)) == .probe)
        #expect(breaker.decide(now: t0.addingTimeInterval(31)) == .skip)
        #expect(breaker.label == "half-open")
        breaker.succeeded()
        #expect(breaker.state == .closed(failures: 0))
        #expect(breaker.decide(now: t0.addingTimeInterval(31)) == .attempt)
    }

    @Test func aFailedProbeOpensAgain() {
        var breaker = CircuitBreaker(failureThreshold: 1, coolOff: 10)
        breaker.failed(now: t0)
        #expect(breaker.decide(now: t0.addingTimeInterval(10)) == .probe)
        breaker.failed(now: t0.addingTimeInterval(11))
        #expect(breaker.state == .open(until: t0.addingTimeInterval(21)))
        #expect(breaker.decide(now: t0.addingTimeInterval(20)) == .skip)
    }

    @Test func anAbandonedProbeLetsTheNextRequestProbe() {
        var breaker = CircuitBreaker(failureThreshold: 1, coolOff: 10)
        breaker.failed(now: t0)
        #expect(breaker.decide(now: t0.addingTimeInterval(10)) == .probe)
        breaker.probeAbandoned()
        #expect(breaker.decide(now: t0.addingTimeInterval(10)) == .probe)
    }

    @Test func successResetsTheFailureCount() {
        var breaker = CircuitBreaker(failureThreshold: 3, coolOff: 30)
        breaker.failed(now: t0)
        breaker.failed(now: t0)
        breaker.succeeded()
        breaker.failed(now: t0)
        #expect(breaker.state == .closed(failures: 1))
    }

    @Test func rateLimitHonoursRetryAfter() {
        var breaker = CircuitBreaker(failureThreshold: 3, coolOff: 30)
        breaker.rateLimited(now: t0, retryAfter: 120)
        #expect(breaker.decide(now: t0.addingTimeInterval(119)) == .skip)
        #expect(breaker.decide(now: t0.addingTimeInterval(120)) == .probe)
    }

    @Test func healthCountsNotFoundAsWorkingAndRefusalAsMisconfigured() {
        let clock = TestClock(t0)
        let health = TierHealth(breaker: CircuitBreaker(failureThreshold: 2, coolOff: 30), now: clock.closure)
        health.record(UpstreamError(.notFound, status: 404, "x"), seconds: 0.01)
        health.record(UpstreamError(.notFound, status: 404, "x"), seconds: 0.01)
        #expect(health.snapshot.breaker == "closed")
        health.record(UpstreamError(.unauthorized, status: 401, "denied"), seconds: 0.01)
        #expect(health.snapshot.misconfigured)
        #expect(health.snapshot.breaker == "closed")
        health.record(UpstreamError(.transport, "refused"), seconds: 0.01)
        health.record(UpstreamError(.serverError, status: 502, "bad gateway"), seconds: 0.01)
        #expect(health.snapshot.breaker == "open")
        #expect(health.decide() == .skip)
        #expect(health.snapshot.lastError?.contains("502") == true)
        clock.advance(by: 30)
        #expect(health.decide() == .probe)
        health.record(nil, seconds: 0.02)
        #expect(health.snapshot.breaker == "closed")
        #expect(!health.snapshot.misconfigured)
    }

    @Test func aStrataTierWhoseUpstreamsFailedStaysClosed() {
        let clock = TestClock(t0)
        let health = TierHealth(breaker: CircuitBreaker(failureThreshold: 3, coolOff: 30), now: clock.closure)
        for _ in 0..<10 {
            health.record(UpstreamError(.upstreamFailed, status: 503, "canonical=transport"), seconds: 0.01)
        }
        #expect(health.snapshot.breaker == "closed")
        #expect(health.decide() == .attempt)
        #expect(health.snapshot.failures == 0)
        // Any other 503 is the tier's own failure.
        for _ in 0..<3 { health.record(UpstreamError(.serverError, status: 503, "upstream answered 503"), seconds: 0.01) }
        #expect(health.snapshot.breaker == "open")
    }

    @Test func breakerTransitionsAreToldOnceAndASummaryAtMostOnceAMinute() {
        let clock = TestClock(t0)
        let events = NIOLockedValueBox<[TierHealth.BreakerEvent]>([])
        let health = TierHealth(breaker: CircuitBreaker(failureThreshold: 2, coolOff: 45), now: clock.closure,
                                observer: { event in events.withLockedValue { $0.append(event) } })
        health.record(UpstreamError(.transport, "refused"), seconds: 0.01)
        #expect(events.withLockedValue { $0 }.isEmpty)
        health.record(UpstreamError(.transport, "refused"), seconds: 0.01)
        #expect(events.withLockedValue { $0 } == [.opened(lastError: "transport: refused", coolOff: 45)])
        // Skipped requests and failed probes say nothing more until a minute has passed.
        for _ in 0..<5 { #expect(health.decide() == .skip) }
        clock.advance(by: 45)
        #expect(health.decide() == .probe)
        health.record(UpstreamError(.transport, "refused"), seconds: 0.01)
        clock.advance(by: 14)
        #expect(health.decide() == .skip)
        #expect(events.withLockedValue { $0 }.count == 1)
        clock.advance(by: 1)
        #expect(health.decide() == .skip)
        #expect(events.withLockedValue { $0 }.last == .stillOpen(downFor: 60, lastError: "transport: refused", skipped: 7))
        #expect(health.decide() == .skip)
        #expect(events.withLockedValue { $0 }.count == 2)
        // The probe that answers closes it: told once, with how long it was down.
        clock.advance(by: 30)
        #expect(health.decide() == .probe)
        health.record(nil, seconds: 0.01)
        health.record(nil, seconds: 0.01)
        #expect(events.withLockedValue { $0 }.last == .closed(downFor: 90))
        #expect(events.withLockedValue { $0 }.count == 3)
    }

    @Test func challengesParse() {
        let bearer = AuthChallenge(header: #"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:library/alpine:pull""#)
        #expect(bearer?.scheme == .bearer)
        #expect(bearer?.realm == "https://auth.example/token")
        #expect(bearer?.service == "registry.example")
        #expect(bearer?.scope == "repository:library/alpine:pull")
        #expect(AuthChallenge(header: #"Basic realm="x""#)?.scheme == .basic)
        #expect(AuthChallenge(header: "Negotiate abc") == nil)
    }
}

