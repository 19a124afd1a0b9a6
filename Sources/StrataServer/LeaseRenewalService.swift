import Foundation
import Logging
import ServiceLifecycle
import StrataCore
import StrataObjectStore

/// Renews the fill leases this replica holds, a third of their life apart, so that a
/// fill longer than a lease (a huge blob, a slow upstream) is not taken over while it
/// still runs. A replica that dies stops renewing, and its leases die after their time.
struct LeaseRenewalService: Service {
    let store: S3ContentStore
    let leaseSeconds: Double
    /// Whether this replica's engine is filling a blob.
    let isFilling: @Sendable (Digest) -> Bool
    let now: @Sendable () -> Date

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: .milliseconds(Int64(leaseSeconds * 1000 / 3)))
                await store.renewLeases(seconds: leaseSeconds, now: now(), isFilling: isFilling)
            }
        }
    }
}
