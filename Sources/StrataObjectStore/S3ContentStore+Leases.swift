import Foundation
import NIOCore
import StrataCore

/// Fill leases: which replica fetches a blob from upstream for all of them. A lease is
/// an object under `leases/`, created with a create-only `PUT` (atomic across gateways),
/// replaced with `If-Match` on its ETag (a takeover or a renewal), deleted when the blob
/// is stored. One that is not renewed dies after its time.
extension S3ContentStore {
    /// Who fills a blob for all the replicas: the replica that created its lease object.
    public struct Lease: Codable, Sendable, Equatable {
        /// The owner's registry URL, where other replicas fetch the blob as it fills.
        public let owner: String
        /// After this, the lease is dead whatever its owner says.
        public let expires: Double
        /// The object's ETag, for taking a dead lease over.
        public var etag: String? = nil
    }

    /// A lease this replica holds: what renewing it takes, and whether its fill was seen
    /// running.
    struct HeldLease: Sendable {
        var lease: Lease
        var seenFilling = false
    }

    /// Creates the blob's lease for `owner` unless one exists. Returns nil when `owner`
    /// now holds it, else the lease held.
    public func acquireLease(_ digest: Digest, owner: String, seconds: Double, now: Date) async throws -> Lease? {
        let lease = Lease(owner: owner, expires: now.timeIntervalSince1970 + seconds)
        switch try await claim(leaseKey(digest), lease) {
        case .created(let etag):
            hold(digest, lease, etag: etag)
            return nil
        case .held(let other):
            return other
        }
    }

    /// Replaces a dead lease with one for `owner`, if it is still the one seen (`If-Match`).
    /// Returns whether `owner` holds it now.
    public func takeOverLease(_ digest: Digest, from dead: Lease, owner: String, seconds: Double, now: Date) async throws -> Bool {
        let lease = Lease(owner: owner, expires: now.timeIntervalSince1970 + seconds)
        guard let etag = try await replaceLease(leaseKey(digest), from: dead, with: lease) else { return false }
        hold(digest, lease, etag: etag)
        return true
    }

    /// Renews, for `seconds` from `now`, each blob lease this replica holds whose fill
    /// runs (`isFilling`, until the blob is written back; or its upload here waits). A
    /// lease whose fill ended, or that another replica took over, is no longer held; one
    /// whose fill never started is dropped when it runs out. An unrenewed lease dies after
    /// its time. Returns how many were renewed.
    @discardableResult
    public func renewLeases(seconds: Double, now: Date, isFilling: (Digest) -> Bool) async -> Int {
        var renewed = 0
        for (digest, entry) in held.withLockedValue({ $0 }) {
            let filling = isFilling(digest) || pending.withLockedValue { $0[digest] != nil }
            guard filling else {
                if entry.seenFilling || entry.lease.expires <= now.timeIntervalSince1970 { drop(digest) }
                continue
            }
            let lease = Lease(owner: entry.lease.owner, expires: now.timeIntervalSince1970 + seconds)
            if let etag = try? await replaceLease(leaseKey(digest), from: entry.lease, with: lease) {
                held.withLockedValue { $0[digest] = HeldLease(lease: Lease(owner: lease.owner, expires: lease.expires, etag: etag), seenFilling: true) }
                renewed += 1
            } else {
                drop(digest)
            }
        }
        return renewed
    }

    /// The blob is stored: its lease goes.
    func releaseLease(_ digest: Digest) async {
        drop(digest)
        try? await client.delete(leaseKey(digest))
    }

    // MARK: By key (a blob's fill, or the janitor's turn)

    /// Creates the lease at `key` for `owner` unless one exists: nil when created, else
    /// the lease held.
    func acquireLease(key: String, owner: String, seconds: Double, now: Date) async throws -> Lease? {
        switch try await claim(key, Lease(owner: owner, expires: now.timeIntervalSince1970 + seconds)) {
        case .created: return nil
        case .held(let other): return other
        }
    }

    private enum Claim {
        case created(etag: String?)
        case held(Lease)
    }

    /// A create-only `PUT` of `lease` at `key` (atomic across gateways), or the lease
    /// found there.
    private func claim(_ key: String, _ lease: Lease) async throws -> Claim {
        do {
            return .created(etag: try await client.put(key, try Self.body(lease), contentType: "application/json", createOnly: true))
        } catch let error as ObjectStoreError where error.isPreconditionFailed {
            if let found = try await readLease(key) { return .held(found) }
            // Released between the two calls: try once more.
            return .created(etag: try await client.put(key, try Self.body(lease), contentType: "application/json", createOnly: true))
        }
    }

    func takeOverLease(key: String, from dead: Lease, owner: String, seconds: Double, now: Date) async throws -> Bool {
        try await replaceLease(key, from: dead, with: Lease(owner: owner, expires: now.timeIntervalSince1970 + seconds)) != nil
    }

    /// The lease at `key` with its ETag; nil when there is none (or it is not a lease).
    func readLease(_ key: String) async throws -> Lease? {
        guard let found = try await client.get(key, maxSize: 64 << 10),
              var lease = try? JSONDecoder().decode(Lease.self, from: Data(found.bytes)) else { return nil }
        lease.etag = found.object.etag
        return lease
    }

    /// Writes `lease` at `key` if the lease there is still `old`; the new ETag, or nil
    /// when it is not (or `old` has no ETag).
    private func replaceLease(_ key: String, from old: Lease, with lease: Lease) async throws -> String? {
        guard let etag = old.etag else { return nil }
        do {
            return try await client.put(key, try Self.body(lease), contentType: "application/json", ifMatch: etag) ?? ""
        } catch let error as ObjectStoreError where error.isPreconditionFailed {
            return nil
        }
    }

    private func hold(_ digest: Digest, _ lease: Lease, etag: String?) {
        held.withLockedValue { $0[digest] = HeldLease(lease: Lease(owner: lease.owner, expires: lease.expires, etag: etag)) }
    }

    private func drop(_ digest: Digest) {
        _ = held.withLockedValue { $0.removeValue(forKey: digest) }
    }

    private static func body(_ lease: Lease) throws -> ByteBuffer {
        let json: Data = try JSONEncoder().encode(lease)
        return ByteBuffer(bytes: json)
    }
}
