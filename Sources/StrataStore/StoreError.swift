import StrataCore

/// Errors of the content-addressed store.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    private enum Code: Sendable {
        case digestMismatch(expected: Digest, actual: Digest)
        case sizeMismatch(expected: Int64, actual: Int64)
        case io(operation: String, path: String, errno: Int32)
        case corrupt(String)
        case notFound(Digest)
    }

    private let code: Code

    public static func digestMismatch(expected: Digest, actual: Digest) -> Self { .init(code: .digestMismatch(expected: expected, actual: actual)) }
    public static func sizeMismatch(expected: Int64, actual: Int64) -> Self { .init(code: .sizeMismatch(expected: expected, actual: actual)) }
    public static func io(_ operation: String, _ path: String, errno: Int32) -> Self { .init(code: .io(operation: operation, path: path, errno: errno)) }
    public static func corrupt(_ what: String) -> Self { .init(code: .corrupt(what)) }
    public static func notFound(_ digest: Digest) -> Self { .init(code: .notFound(digest)) }

    public var isVerificationFailure: Bool {
        switch code {
        case .digestMismatch, .sizeMismatch: true
        default: false
        }
    }

    /// Files on disk that are there but do not make the blob they should (cut, damaged).
    public var isCorrupt: Bool {
        if case .corrupt = code { return true }
        return false
    }

    public var isDiskFull: Bool {
        if case .io(_, _, let e) = code { return e == 28 /* ENOSPC */ || e == 122 /* EDQUOT */ }
        return false
    }

    public var description: String {
        switch code {
        case .digestMismatch(let e, let a): "digest mismatch: expected \(e), got \(a)"
        case .sizeMismatch(let e, let a): "size mismatch: expected \(e) bytes, got \(a)"
        case .io(let op, let path, let e): "\(op) \(path): \(String(cString: strerror(e)))"
        case .corrupt(let what): "corrupt store entry: \(what)"
        case .notFound(let d): "blob \(d) not in the store"
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
