import NIOCore
import StrataCore
import StrataStore
import StrataTesting
import Testing
@testable import StrataMirror

@Suite struct BlobFillStateMachineTests {
    typealias Machine = BlobFill.StateMachine<String>
    let blob = StoredBlob(digest: ContentHasher.digest(of: Array("x".utf8)), size: 100, storedSize: 100, compressed: false)

    static func started(_ total: Int64?, batch: Int64 = 10, window: Int = 1 << 20) -> Machine {
        var machine = Machine(memoryWindow: window, readBatch: batch)
        _ = machine.responseStarted(total: total, sink: nil, tier: .canonical, path: ["canonical"])
        return machine
    }

    @Test func readersWaitThenFollowTheWriterButNeverGetTheLastByteBeforeVerification() {
        var machine = Machine()
        #expect(machine.startAction() == .wait)
        #expect(machine.readAction(at: 0) == .wait)
        let parked1 = machine.parkForStart("client")
        #expect(parked1)
        #expect(machine.responseStarted(total: 100, sink: nil, tier: .canonical, path: []) == ["client"])
        // Out of order: a second start changes nothing and wakes no one.
        #expect(machine.responseStarted(total: 50, sink: nil, tier: .canonical, path: []) == [])
        #expect(machine.startAction() == .started(total: 100))
        #expect(machine.readAction(at: 0) == .wait)
        _ = machine.bytesWritten(40)
        #expect(machine.readAction(at: 0) == .read(limit: 40))
        #expect(machine.readAction(at: 40) == .wait)
        _ = machine.bytesWritten(100)
        // Everything is written but not verified: the final byte is held back.
        #expect(machine.readAction(at: 40) == .read(limit: 99))
        #expect(machine.readAction(at: 99) == .wait)
        let parked2 = machine.parkForBytes("reader", at: 99, end: nil)
        #expect(parked2)
        #expect(machine.committed(blob, attempts: []) == ["reader"])
        #expect(machine.readAction(at: 99) == .read(limit: 100))
        #expect(machine.readAction(at: 100) == .finished)
        #expect(machine.doneAction() == .committed(blob))
    }

    /// A range of a blob being filled is not completed before the whole blob is
    /// verified: its own last byte is held back, and a failure cuts it off.
    @Test func aRangeEndsOnlyAfterVerification() {
        var machine = Self.started(100)
        _ = machine.bytesWritten(60)
        #expect(machine.readAction(at: 0, end: 10) == .read(limit: 9))
        #expect(machine.readAction(at: 9, end: 10) == .wait)
        // Held at its last byte, a reader waits for verification, not for more bytes.
        let parked3 = machine.parkForBytes("range", at: 9, end: 10)
        #expect(parked3)
        #expect(machine.bytesWritten(100) == [])
        #expect(machine.readAction(at: 9, end: 10) == .wait)
        var failing = machine
        #expect(failing.failed(FillError(.verification, "digest mismatch"), attempts: []) == ["range"])
        #expect(failing.readAction(at: 9, end: 10) == .fail(FillError(.verification, "digest mismatch")))
        #expect(machine.committed(blob, attempts: []) == ["range"])
        #expect(machine.readAction(at: 9, end: 10) == .read(limit: 100))
    }

    @Test func withoutAKnownSizeTheNewestByteIsHeldBack() {
        var machine = Self.started(nil)
        _ = machine.bytesWritten(10)
        #expect(machine.readAction(at: 0) == .read(limit: 9))
    }

    @Test func aVerificationFailureCutsReadersOffEvenWithAllBytesWritten() {
        var machine = Self.started(100)
        _ = machine.bytesWritten(100)
        let error = FillError(.verification, "digest mismatch")
        _ = machine.failed(error, attempts: [])
        #expect(machine.readAction(at: 99) == .fail(error))
        #expect(machine.readAction(at: 0) == .fail(error))
        // Terminal: a late commit does not resurrect it.
        #expect(machine.committed(blob, attempts: []) == [])
        #expect(machine.readAction(at: 0) == .fail(error))
        #expect(machine.isTerminal)
        #expect(machine.doneAction() == .fail(error))
        let parked4 = machine.parkForDone("late")
        #expect(!parked4)
    }

    @Test func failureBeforeAnyByteIsReportedToStartingClients() {
        var machine = Machine()
        let parkedA = machine.parkForStart("a"), parkedB = machine.parkForStart("b")
        #expect(parkedA && parkedB)
        let error = FillError(.notFound, "404 everywhere")
        #expect(machine.failed(error, attempts: []) == ["a", "b"])
        #expect(machine.startAction() == .fail(error))
        let parked5 = machine.parkForStart("c")
        #expect(!parked5)
    }

    /// A reader that caught up with the writer is woken by a whole batch, not by every part.
    @Test func caughtUpReadersAreWokenByBatches() {
        var machine = Self.started(1000, batch: 100)
        _ = machine.bytesWritten(50)
        // At 0 it could read 50 bytes: it waits until 100 are there.
        let parked6 = machine.parkForBatch("fast", at: 0, limit: 50)
        #expect(parked6)
        let parked7 = machine.parkForBytes("ahead", at: 50, end: nil)
        #expect(parked7)
        #expect(machine.bytesWritten(60) == [])
        #expect(machine.bytesWritten(100) == ["fast"])
        #expect(machine.bytesWritten(149) == [])
        #expect(machine.bytesWritten(150) == ["ahead"])
        // Near the end the batch is cut at the total: no wait for bytes that never come.
        _ = machine.bytesWritten(990)
        let parked8 = machine.parkForBatch("tail", at: 950, limit: 990)
        #expect(parked8)
        #expect(machine.bytesWritten(1000) == ["tail"])
    }

    /// On a full disk the bytes go through memory, bounded by the window; the leader
    /// waits for the slowest lease, and stops when no client is left.
    @Test func passThroughMemoryIsBoundedByTheSlowestLease() {
        var machine = Self.started(300, window: 100)
        let slow = machine.addLease(), fast = machine.addLease()
        _ = machine.bytesWritten(50)
        let parked9 = machine.parkForBytes("reader", at: 50, end: nil)
        #expect(parked9)
        #expect(machine.diskFull() == ["reader"])
        #expect(machine.isPassThrough)
        let part = ByteBuffer(repeating: 7, count: 60)
        // A reader waiting at the sink's end is woken by the first part in memory.
        let parkedAtEnd = machine.parkForBytes("memory reader", at: 50, end: nil)
        #expect(parkedAtEnd)
        guard case .kept(let wake) = machine.offer(part, written: 110) else { Issue.record("first part not kept"); return }
        #expect(wake == ["memory reader"])
        // 60 bytes in memory, window 100: the next 60 must wait.
        guard case .wait = machine.offer(part, written: 170) else { Issue.record("window not enforced"); return }
        let parked10 = machine.parkLeader("leader", bytes: 60)
        #expect(parked10)
        #expect(machine.readAction(at: 50) == .readMemory(limit: 110))
        let (bytes, wakeFast) = machine.takeMemory(50..<110, lease: fast)
        #expect(bytes?.readableBytes == 60)
        #expect(wakeFast == ["leader"])
        // The slow lease still needs those bytes: no room yet.
        guard case .wait = machine.offer(part, written: 170) else { Issue.record("memory dropped before the slow lease read it"); return }
        let parked11 = machine.parkLeader("leader", bytes: 60)
        #expect(parked11)
        #expect(machine.advance(slow, to: 50) == ["leader"])
        _ = machine.takeMemory(50..<110, lease: slow)
        guard case .kept = machine.offer(part, written: 170) else { Issue.record("no room after both leases read"); return }
        // Bytes already dropped cannot be had by a late reader.
        #expect(machine.takeMemory(50..<60, lease: nil).0 == nil)
        _ = machine.releaseLease(slow)
        _ = machine.releaseLease(fast)
        guard case .stop = machine.offer(part, written: 230) else { Issue.record("pass-through went on with no client"); return }
        #expect(machine.passedThrough(attempts: [], reason: "not cached: disk full") == [])
        #expect(machine.notCachedReason == "not cached: disk full")
        #expect(machine.readAction(at: 0) == .read(limit: 50))
        #expect(machine.readAction(at: 170) == .finished)
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
            try await eventually("32 callers joined") { flight.callers("k") >= 32 }
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
        try await eventually("a flight started") { flight.inFlight != 0 }
        caller.cancel()
        await gate.open()
        _ = try? await caller.value
        try await eventually("the flight ended") { flight.inFlight == 0 }
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
        let containerd = ManifestAccept(headers: ["application/vnd.docker.distribution.manifest.v2+json, */*"])
        #expect(containerd.accepts("anything/else"))
        #expect(ManifestAccept(headers: []).accepts(MediaType.ociManifest.value))
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

