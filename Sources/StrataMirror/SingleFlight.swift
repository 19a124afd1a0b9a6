import NIOConcurrencyHelpers

/// Concurrent callers with the same key share one run of the work.
///
/// The work runs in its own task, so it completes even when the caller that started
/// it goes away.
public final class SingleFlight<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Entry {
        let task: Task<Value, any Error>
        var callers: Int
    }

    private let running = NIOLockedValueBox([Key: Entry]())

    public init() {}

    public func run(_ key: Key, _ work: @escaping @Sendable () async throws -> Value) async throws -> Value {
        let task = running.withLockedValue { table -> Task<Value, any Error> in
            if var existing = table[key] {
                existing.callers += 1
                table[key] = existing
                return existing.task
            }
            // The new task may finish before it is in the table; its `finish` then waits
            // for this lock, so it always removes the entry that was added here.
            let task = Task<Value, any Error> {
                defer { self.finish(key) }
                return try await work()
            }
            table[key] = Entry(task: task, callers: 1)
            return task
        }
        return try await task.value
    }

    private func finish(_ key: Key) {
        _ = running.withLockedValue { $0.removeValue(forKey: key) }
    }

    /// Keys with work in flight.
    public var inFlight: Int { running.withLockedValue { $0.count } }

    /// How many callers have joined the work in flight for `key`.
    public func callers(_ key: Key) -> Int { running.withLockedValue { $0[key]?.callers ?? 0 } }
}
