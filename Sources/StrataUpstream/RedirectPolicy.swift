import Foundation
import NIOPosix
import StrataCore
#if canImport(Glibc)
import Glibc
#endif

/// Where an upstream's redirects may lead.
///
/// An upstream is trusted for bytes only once their digest matches, and for redirects
/// not at all: a hostile or intercepted plain-HTTP upstream could otherwise point
/// Strata at local sockets, cloud metadata or internal services and have the answer
/// streamed to a client. The rules:
/// 1. only `http` and `https`;
/// 2. never to a link-local address (169.254/16 and fe80::/10, where metadata services
///    live), nor to 0.0.0.0, multicast or other unusable addresses;
/// 3. never to loopback or private addresses from an upstream that is itself public;
///    an upstream on a loopback or private address (a LAN registry with its own object
///    store) may redirect to them.
/// Hostnames are resolved, and every address they resolve to must pass.
public enum RedirectPolicy {
    public enum Verdict: Sendable, Equatable {
        case allow
        case refuse(String)
    }

    /// The decision, from the target's scheme and the classes of the origin's and the
    /// target's addresses.
    public static func decide(scheme: String?, target: [IPAddressClass], origin: [IPAddressClass]) -> Verdict {
        guard let scheme = scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            return .refuse("scheme \(scheme ?? "none") is not http or https")
        }
        guard !target.isEmpty else { return .refuse("the target does not resolve") }
        if let bad = target.first(where: { $0 == .linkLocal || $0 == .unusable }) {
            return .refuse("the target is a \(bad.rawValue) address")
        }
        let originIsPublic = !origin.isEmpty && origin.allSatisfy { $0 == .public }
        if originIsPublic, let inner = target.first(where: { $0 == .loopback || $0 == .private }) {
            return .refuse("a public upstream may not redirect to a \(inner.rawValue) address")
        }
        return .allow
    }

    /// Resolves both hosts and decides.
    public static func check(from origin: URL?, to target: URL) async -> Verdict {
        var originClasses: [IPAddressClass] = []
        if let host = origin?.host { originClasses = await classes(of: host) }
        return await check(origin: originClasses, to: target)
    }

    /// Resolves the target and decides, for an origin already classified.
    public static func check(origin originClasses: [IPAddressClass], to target: URL) async -> Verdict {
        guard let scheme = target.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            return decide(scheme: target.scheme, target: [], origin: [])
        }
        guard let host = target.host, !host.isEmpty else { return .refuse("the target has no host") }
        return decide(scheme: scheme, target: await classes(of: host), origin: originClasses)
    }

    /// The classes of every address `host` stands for (itself, if it is an address).
    static func classes(of host: String) async -> [IPAddressClass] {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if let literal = IPAddressClass(address: bare) { return [literal] }
        guard bare.utf8.count <= 253 else { return [] }
        return (try? await NIOThreadPool.singleton.runIfActive { resolve(bare) }) ?? []
    }

    private static func resolve(_ host: String) -> [IPAddressClass] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>? = nil
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return [] }
        defer { freeaddrinfo(first) }
        var out: [IPAddressClass] = []
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let current = node {
            var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(current.pointee.ai_addr, current.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 {
                let text = String(cString: buffer)
                out.append(IPAddressClass(address: text.split(separator: "%").first.map(String.init) ?? text) ?? .unusable)
            }
            node = current.pointee.ai_next
        }
        return out
    }
}
