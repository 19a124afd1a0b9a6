import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix

/// A transport failure in a person's words: "connection refused", "connect timed out",
/// "cannot resolve the host", rather than the layers of error descriptions underneath
/// (`connection reset (error set): Connection refused (errno: 111)`).
public enum TransportErrorText {
    public static func describe(_ error: any Error) -> String {
        switch error {
        case let error as HTTPClientError:
            switch error {
            case .connectTimeout: return "connect timed out"
            case .readTimeout: return "no answer in time (read timed out)"
            case .deadlineExceeded: return "timed out"
            case .remoteConnectionClosed: return "the server closed the connection"
            case .cancelled: return "cancelled"
            case .invalidURL: return "not a valid URL"
            case .tlsHandshakeTimeout: return "TLS handshake timed out"
            default: return "\(error)"
            }
        case let error as NIOConnectionError:
            if let first = error.connectionErrors.first { return describe(first.error) }
            if error.dnsAError != nil || error.dnsAAAAError != nil { return "cannot resolve the host \(error.host)" }
            return "cannot connect to \(error.host):\(error.port)"
        case let error as IOError:
            return errnoText(error.errnoCode)
        case let error as ChannelError:
            if case .connectTimeout = error { return "connect timed out" }
            return "\(error)"
        default:
            let text = "\(error)"
            if text.contains("NIOSSL") || text.contains("handshake") || text.contains("certificate") { return "TLS failed: \(text)" }
            return text
        }
    }

    static func errnoText(_ code: Int32) -> String {
        switch code {
        case ECONNREFUSED: "connection refused"
        case ECONNRESET: "connection reset"
        case ETIMEDOUT: "connect timed out"
        case EHOSTUNREACH: "no route to host"
        case ENETUNREACH: "network unreachable"
        case EPIPE: "the connection was closed"
        default: String(cString: strerror(code)).lowercased()
        }
    }
}
