import NIOConcurrencyHelpers
import StrataTesting
import Testing
@testable import StrataMirror

@Suite struct BackgroundWorkTests {
    /// Work submitted while the group runs is its child: after `finish()` it goes on,
    /// and `run()` returns only once it ended. Work after `finish()` runs on its own.
    @Test func runWaitsForItsWorkAfterFinish() async throws {
        let work = BackgroundWork()
        let returned = NIOLockedValueBox(false)
        let runner = Task {
            await work.run()
            returned.withLockedValue { $0 = true }
        }
        try await eventually("the work accepts") { work.isAccepting }
        let (gate, open) = AsyncStream.makeStream(of: Void.self)
        let (done, finished) = AsyncStream.makeStream(of: String.self)
        work.submit {
            for await _ in gate { break }
            finished.yield("fill")
        }
        try await eventually("work runs") { work.running != 0 }
        work.finish()
        #expect(!work.isAccepting)
        #expect(work.running == 1)
        #expect(!returned.withLockedValue { $0 }, "run() returned while its work was still running")
        open.yield()
        await runner.value
        #expect(returned.withLockedValue { $0 })
        #expect(work.running == 0)
        work.submit { finished.yield("after"); finished.finish() }
        var seen: [String] = []
        for await name in done { seen.append(name) }
        #expect(seen == ["fill", "after"])
    }

    /// Cancelling the group cancels the work in it.
    @Test func cancellingRunCancelsTheWork() async throws {
        let work = BackgroundWork()
        let runner = Task { await work.run() }
        try await eventually("the work accepts") { work.isAccepting }
        let (cancelled, saw) = AsyncStream.makeStream(of: Bool.self)
        let (never, held) = AsyncStream.makeStream(of: Void.self)
        work.submit {
            // Nothing is ever sent: the loop ends only when the task is cancelled.
            for await _ in never {}
            withExtendedLifetime(held) {}
            saw.yield(Task.isCancelled)
            saw.finish()
        }
        try await eventually("work runs") { work.running != 0 }
        runner.cancel()
        var values: [Bool] = []
        for await value in cancelled { values.append(value) }
        #expect(values == [true])
    }
}
