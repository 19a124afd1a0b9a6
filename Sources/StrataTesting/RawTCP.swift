#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Sends raw bytes to a loopback port and reads until the peer closes or `timeout` passes.
public enum RawTCP {
    public struct Result: Sendable {
        public let bytes: [UInt8]
        /// True when the peer closed the connection (read returned 0) before the timeout.
        public let closedByPeer: Bool
    }

    public static func exchange(port: Int, send bytes: [UInt8], timeout: TimeInterval = 5) throws -> Result {
        let connection = try Connection(port: port, timeout: timeout)
        defer { connection.close() }
        connection.send(bytes)
        return connection.readUntilClosed()
    }

    /// One open loopback connection, for tests that hold connections open.
    public final class Connection: @unchecked Sendable {
        let fd: Int32
        private var closed = false

        public init(port: Int, timeout: TimeInterval = 5) throws {
            fd = try RawTCP.connect(port: port, timeout: timeout)
        }

        public func send(_ bytes: [UInt8]) {
            _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }

        /// Reads until the peer closes or the receive timeout passes.
        public func readUntilClosed() -> Result {
            var out: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = recv(fd, &buffer, buffer.count, 0)
                if n > 0 { out.append(contentsOf: buffer[0..<n]); continue }
                return Result(bytes: out, closedByPeer: n == 0 || errno == ECONNRESET)
            }
        }

        public func close() {
            guard !closed else { return }
            closed = true
            Glibc.close(fd)
        }

        deinit { close() }
    }

    static func connect(port: Int, timeout: TimeInterval) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSupportError("socket failed") }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - floor(timeout)) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { Glibc.close(fd); throw TestSupportError("connect to \(port) failed") }
        return fd
    }

    /// The start of a TLS 1.2 ClientHello, as a client probing a plain-HTTP port sends.
    public static let tlsClientHello: [UInt8] = [
        0x16, 0x03, 0x01, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x2b, 0x03, 0x03,
    ] + [UInt8](repeating: 0x42, count: 32) + [0x00, 0x00, 0x02, 0x00, 0x2f, 0x01, 0x00]
}
