/// Waiting in a test for something another task does, without sleeping and without
/// hanging: the task yields until `condition` holds, and fails once `within` has passed
/// (a regression fails the test instead of stalling the whole run).
public func eventually(
    within: Duration = .seconds(20), _ what: @autoclosure () -> String = "the condition",
    _ condition: () -> Bool
) async throws {
    let deadline = ContinuousClock.now + within
    while !condition() {
        guard ContinuousClock.now < deadline else {
            throw TestSupportError("\(what()) did not happen within \(within)")
        }
        await Task.yield()
    }
}
