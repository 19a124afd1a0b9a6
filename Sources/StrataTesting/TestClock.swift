import Foundation

/// A clock the test moves by hand, injected where Strata asks for the time.
public final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date

    public init(_ start: Date = Date()) {
        current = start
    }

    public var now: Date {
        lock.lock()
        defer { lock.unlock() }
        return current
    }

    public func advance(by seconds: TimeInterval) {
        lock.lock()
        current = current.addingTimeInterval(seconds)
        lock.unlock()
    }

    /// The clock as a closure, for `now:` parameters.
    public var closure: @Sendable () -> Date { { [self] in self.now } }
}
