import NIOConcurrencyHelpers

/// Work that must outlive the request that started it (blob fills), run as children of
/// one task group while ``run()`` runs (the server's service group): shutdown stops
/// taking new work with ``finish()``, ``run()`` returns once what is running is done,
/// and cancelling ``run()`` cancels it all. Without a running group (tools, tests), or
/// after ``finish()``, work runs in a task of its own, as before.
public final class BackgroundWork: Sendable {
    public typealias Job = @Sendable () async -> Void

    private struct State {
        var jobs: AsyncStream<Job>.Continuation?
        var running = 0
    }
    private let state = NIOLockedValueBox(State())

    public init() {}

    /// Starts `job`: as a child of the running group, or in a task of its own.
    public func submit(_ job: @escaping Job) {
        let queued = state.withLockedValue { s -> Bool in
            guard let jobs = s.jobs, case .enqueued = jobs.yield(job) else { return false }
            return true
        }
        if !queued { Task { await job() } }
    }

    /// Runs submitted work as child tasks until ``finish()``, then waits for it.
    public func run() async {
        let (stream, continuation) = AsyncStream.makeStream(of: Job.self)
        state.withLockedValue { $0.jobs = continuation }
        await withDiscardingTaskGroup { group in
            for await job in stream {
                group.addTask {
                    self.state.withLockedValue { $0.running += 1 }
                    defer { self.state.withLockedValue { $0.running -= 1 } }
                    await job()
                }
            }
        }
    }

    /// Takes no more work into the group; ``run()`` returns when the running work ends.
    public func finish() {
        let jobs = state.withLockedValue { s in defer { s.jobs = nil }; return s.jobs }
        jobs?.finish()
    }

    /// Whether a running group takes submitted work now.
    public var isAccepting: Bool { state.withLockedValue { $0.jobs != nil } }

    /// Jobs running in the group now.
    public var running: Int { state.withLockedValue { $0.running } }
}
