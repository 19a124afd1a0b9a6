import StrataCore
import StrataUpstream

/// Why the engine could not answer, in the engine's own words, with the tier attempts
/// that led to it and the local failure that caused it, if one did. The registry routes
/// map it to the spec's codes and statuses at the HTTP edge; the engine knows neither.
///
/// Compare with the constants (`error == .manifestNotFound`); build one with
/// ``saying(_:attempts:cause:)``.
public struct MirrorError: Error, Sendable, CustomStringConvertible, Equatable {
    private enum Code: String, Sendable {
        case manifestNotFound = "manifest_not_found"
        case blobNotFound = "blob_not_found"
        case repositoryNotFound = "repository_not_found"
        case referrersNotSupported = "referrers_not_supported"
        case registryNotConfigured = "registry_not_configured"
        case refused
        case unavailable
        case tiersFailed = "tiers_failed"
    }

    private let code: Code
    public let message: String
    public let attempts: [TierAttempt]
    /// The local failure behind it (the store, the index), for the log; never sent to a client.
    public let cause: (any Error & Sendable)?

    private init(_ code: Code, message: String = "", attempts: [TierAttempt] = [], cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.attempts = attempts
        self.cause = cause
    }

    /// No tier has the manifest (or the mirror is cache-only and lacks it).
    public static let manifestNotFound = MirrorError(.manifestNotFound)
    /// No tier has the blob (or the mirror is cache-only and lacks it).
    public static let blobNotFound = MirrorError(.blobNotFound)
    /// No tier knows the repository (a tag list), or nothing of it is cached.
    public static let repositoryNotFound = MirrorError(.repositoryNotFound)
    /// Every tier answered the referrers API with 404 (not supported there), and nothing is cached.
    public static let referrersNotSupported = MirrorError(.referrersNotSupported)
    /// No tier is configured for the registry the request names.
    public static let registryNotConfigured = MirrorError(.registryNotConfigured)
    /// Upstream refused access (credentials missing or wrong).
    public static let refused = MirrorError(.refused)
    /// The cache failed (the store, the index).
    public static let unavailable = MirrorError(.unavailable)
    /// Every tier that was asked failed, and nothing usable is cached: this mirror works,
    /// its upstreams do not (a mirror in front of it must not count it as down).
    public static let tiersFailed = MirrorError(.tiersFailed)

    /// This kind of error, with what happened.
    public func saying(_ message: String, attempts: [TierAttempt] = [], cause: (any Error & Sendable)? = nil) -> MirrorError {
        MirrorError(code, message: message, attempts: attempts, cause: cause)
    }

    /// The tier attempts, one line, printable and bounded (``UpstreamFailedHeader``).
    public var attemptsSummary: String {
        PrintableText.make(attempts.isEmpty ? "none" : attempts.map(\.description).joined(separator: ", "), limit: 400)
    }

    /// A short name fit for a metric label.
    public var label: String { code.rawValue }

    public var description: String { "\(code.rawValue): \(message)" }

    /// The same kind of error; messages and attempts aside.
    public static func == (lhs: MirrorError, rhs: MirrorError) -> Bool { lhs.code == rhs.code }
}
