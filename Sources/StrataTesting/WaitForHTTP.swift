import AsyncHTTPClient
import Foundation
import NIOCore

/// Waits until `url` answers any HTTP status, polling every 50 ms up to `timeout`.
/// This is readiness polling for a server the test started, not a sleep for an effect.
public func waitUntilAnswering(_ url: String, timeout: Duration = .seconds(20), client: HTTPClient = .shared) async throws {
    let deadline = ContinuousClock.now + timeout
    while true {
        do {
            let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(2))
            _ = try await response.body.collect(upTo: 1 << 20)
            return
        } catch {
            if ContinuousClock.now > deadline { throw TestSupportError("\(url) did not answer within \(timeout): \(error)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
