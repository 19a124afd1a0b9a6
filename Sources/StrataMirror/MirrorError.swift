import StrataCore
import StrataUpstream

/// Why the engine could not answer: the registry error to send, and the tier attempts
/// that led to it (for the ledger).
public struct MirrorError: Error, Sendable, CustomStringConvertible {
    public let registryError: RegistryError
    public let attempts: [TierAttempt]

    public init(_ code: RegistryErrorCode, _ message: String, status: Int? = nil, attempts: [TierAttempt] = []) {
        self.registryError = RegistryError(code, message, status: status)
        self.attempts = attempts
    }

    public var description: String { registryError.description }
}
