#if canImport(Glibc)
import Glibc
#endif

/// Checks that an address can be bound, so a port in use is reported with the address
/// that is taken (the server's own bind error does not say which).
enum PortCheck {
    /// nil when the address can be bound now, else the reason.
    static func problem(host: String, port: Int) -> String? {
        guard port != 0 else { return nil }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host == "0.0.0.0" ? nil : host, String(port), &hints, &result) == 0, let info = result else {
            return "cannot resolve \(host)"
        }
        defer { freeaddrinfo(result) }
        let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) != 0 {
            switch errno {
            case EADDRINUSE: return "address already in use"
            case EACCES: return "permission denied"
            case EADDRNOTAVAIL: return "address not available on this machine"
            default: return String(cString: strerror(errno))
            }
        }
        return nil
    }
}
