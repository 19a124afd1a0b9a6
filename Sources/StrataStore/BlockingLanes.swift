import Foundation

/// Runs blocking work on threads of its own, side by side, and waits for all of them
/// without holding a thread of Swift's cooperative pool or of the shared NIO thread
/// pool (which serves file reads to clients): for long runs of filesystem calls, such
/// as an eviction's removals.
enum BlockingLanes {
    /// Calls `body(lane)` for each lane in `0..<count`, each on a new thread; returns
    /// when all have returned.
    static func run(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let group = DispatchGroup()
            for lane in 0..<count {
                group.enter()
                let thread = Thread {
                    body(lane)
                    group.leave()
                }
                thread.name = "strata-removal-\(lane)"
                thread.start()
            }
            group.notify(queue: .global()) { done.resume() }
        }
    }
}
