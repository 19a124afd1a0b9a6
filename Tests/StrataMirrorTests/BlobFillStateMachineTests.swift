import StrataCore
import StrataStore
import StrataTesting
import Testing
@testable import StrataMirror

@Suite struct BlobFillStateMachineTests {
    let blob = StoredBlob(digest: ContentHasher.digest(of: Array("x".utf8)), size: 100, storedSize: 100, compressed: false)

    @Test func readersWaitThenFollowTheWriterButNeverGetTheLastByteBeforeVerification() {
        var machine = BlobFill.StateMachine()
        #expect(machine.startAction() == .wait)
        #expect(machine.readAction(at: 0) == .wait)
        let first = machine.responseStarted(total: 100)
        let second = machine.responseStarted(total: 100)
        #expect(first)
        #expect(!second)
        #expect(machine.startAction() == .started(total: 100))
        #expect(machine.readAction(at: 0) == .wait)
        machine.bytesWritten(40)
        #expect(machine.readAction(at: 0) == .read(limit: 40))
        #expect(machine.readAction(at: 40) == .wait)
        machine.bytesWritten(100)
        // Everything is written but not verified: the final byte is held back.
        #expect(machine.readAction(at: 40) == .read(limit: 99))
        #expect(machine.readAction(at: 99) == .wait)
        machine.committed(blob)
        #expect(machine.readAction(at: 99) == .read(limit: 100))
        #expect(machine.readAction(at: 100) == .finished)
    }

    /// A range of a blob being filled is not completed before the whole blob is
    /// verified: its own last byte is held back, and a failure cuts it off.
    @Test func aRangeEndsOnlyAfterVerification() {
        var machine = BlobFill.StateMachine()
        _ = machine.responseStarted(total: 100)
        machine.bytesWritten(60)
        #expect(machine.readAction(at: 0, end: 10) == .read(limit: 9))
        #expect(machine.readAction(at: 9, end: 10) == .wait)
        machine.bytesWritten(100)
        #expect(machine.readAction(at: 9, end: 10) == .wait)
        var failing = machine
        failing.failed(FillError(.verification, "digest mismatch"))
        #expect(failing.readAction(at: 9, end: 10) == .fail(FillError(.verification, "digest mismatch")))
        machine.committed(blob)
        #expect(machine.readAction(at: 9, end: 10) == .read(limit: 100))
    }

    @Test func withoutAKnownSizeTheNewestByteIsHeldBack() {
        var machine = BlobFill.StateMachine()
        _ = machine.responseStarted(total: nil)
        machine.bytesWritten(10)
        #expect(machine.readAction(at: 0) == .read(limit: 9))
    }

    @Test func aVerificationFailureCutsReadersOffEvenWithAllBytesWritten() {
        var machine = BlobFill.StateMachine()
        _ = machine.responseStarted(total: 100)
        machine.bytesWritten(100)
        let error = FillError(.verification, "digest mismatch")
        machine.failed(error)
        #expect(machine.readAction(at: 99) == .fail(error))
        #expect(machine.readAction(at: 0) == .fail(error))
        // Terminal: a late commit does not resurrect it.
        machine.committed(blob)
        #expect(machine.readAction(at: 0) == .fail(error))
        #expect(machine.isTerminal)
    }

    @Test func failureBeforeAnyByteIsReportedToStartingClients() {
        var machine = BlobFill.StateMachine()
        let error = FillError(.notFound, "404 everywhere")
        machine.failed(error)
        #expect(machine.startAction() == .fail(error))
    }
}

@Suite struct SingleFlightTests {
    @Test func concurrentCallersShareOneRun() async throws {
        let flight = SingleFlight<String, Int>()
        let runs = Counter()
        let gate = Gate()
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<32 {
                group.addTask {
                    try await flight.run("k") {
                        await runs.increment()
                        await gate.wait()
                        return 7
                    }
                }
            }
            // Open the gate only once all 32 callers have joined the one run.
            while flight.callers("k") < 32 { await Task.yield() }
            await gate.open()
            for try await value in group { #expect(value == 7) }
        }
        #expect(await runs.value == 1)
        #expect(flight.inFlight == 0)
    }

    @Test func workSurvivesItsCallerBeingCancelled() async throws {
        let flight = SingleFlight<String, Int>()
        let gate = Gate()
        let done = Counter()
        let caller = Task {
            try await flight.run("k") {
                await gate.wait()
                await done.increment()
                return 1
            }
        }
        while flight.inFlight == 0 { await Task.yield() }
        caller.cancel()
        await gate.open()
        _ = try? await caller.value
        while flight.inFlight != 0 { await Task.yield() }
        #expect(await done.value == 1)
    }

    @Test func freshnessFollowsTheTTL() {
        let freshness = TagFreshness(ttl: 600)
        let t0 = Date(timeIntervalSince1970: 10_000)
        #expect(freshness.decide(fetchedAt: t0, now: t0.addingTimeInterval(599)) == .fresh)
        #expect(freshness.decide(fetchedAt: t0, now: t0.addingTimeInterval(600)) == .revalidate)
        #expect(freshness.decide(fetchedAt: t0, now: t0.addingTimeInterval(-5)) == .revalidate)
    }

    @Test func acceptHeadersAreSplitAndMatched() {
        let docker = ManifestAccept(headers: ["application/json", "application/vnd.docker.distribution.manifest.v2+json",
                                              "application/vnd.oci.image.index.v1+json; q=0.5"])
        #expect(docker.accepts("application/vnd.oci.image.index.v1+json"))
        #expect(!docker.accepts("application/vnd.oci.image.manifest.v1+json"))
        #expect(docker.acceptsIndex)
        let containerd = ManifestAccept(headers: ["application/vnd.docker.distribution.manifest.v2+json, */*"])
        #expect(containerd.accepts("anything/else"))
        #expect(ManifestAccept(headers: []).upstreamHeaders.count == 4)
    }
}

actor Counter {
    var value = 0
    func increment() { value += 1 }
}

actor Gate {
    private var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    func wait() async {
        if isOpen { return }
        await withCheckedContinuation { waiters.append($0) }
    }
    func open() {
        isOpen = true
        waiters.forEach { $0.resume() }
        waiters = []
    }
}

import Foundation

@Suite struct NegativeCacheTests {
    @Test func remembersForTheTTLOnly() {
        let clock = TestClock(Date(timeIntervalSince1970: 100))
        let cache = NegativeCache(ttl: 30, now: clock.closure)
        #expect(!cache.contains("k"))
        cache.insert("k")
        #expect(cache.contains("k"))
        clock.advance(by: 29)
        #expect(cache.contains("k"))
        clock.advance(by: 1)
        #expect(!cache.contains("k"))
        let off = NegativeCache(ttl: 0, now: clock.closure)
        off.insert("k")
        #expect(!off.contains("k"))
    }
}

