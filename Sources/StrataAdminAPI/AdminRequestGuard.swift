import HTTPTypes
import Hummingbird
import NIOCore
import StrataCore

/// What a browser must not be able to do to the admin port.
///
/// A page on any site can make the browser send requests to `127.0.0.1:5050`: simple
/// cross-site `POST`s (`Content-Type: text/plain`) go out without a preflight, and DNS
/// rebinding makes a foreign name resolve to loopback so that even reads look
/// same-origin. So:
/// - the `Host` must be a loopback name or the admin listen address (unless the port
///   listens on all interfaces behind a token, which a browser cannot supply);
/// - a state-changing request must say `Content-Type: application/json` (which a
///   cross-site page can send only after a CORS preflight this port never approves)
///   and carry no `Origin` but its own.
public struct AdminRequestGuard: Sendable {
    /// The host the admin port listens on, as configured.
    public let listenHost: String
    /// Whether every request needs the admin token.
    public let tokenRequired: Bool

    public init(listenHost: String, tokenRequired: Bool) {
        self.listenHost = listenHost.lowercased()
        self.tokenRequired = tokenRequired
    }

    /// Why a request is refused, or nil to let it through.
    public func refusal(method: String, host: String?, origin: String?, contentType: String?, fetchSite: String?, path: String = "") -> String? {
        let hostName = host.map(Self.hostName) ?? ""
        let wildcard = ["0.0.0.0", "::", ""].contains(listenHost)
        if !(wildcard && tokenRequired) {
            guard !hostName.isEmpty, Self.isLoopbackName(hostName) || hostName == listenHost else {
                return "Host \(host ?? "(none)") is not this admin server"
            }
        }
        guard !["GET", "HEAD", "OPTIONS"].contains(method.uppercased()) else { return nil }
        if let fetchSite, fetchSite.lowercased() == "cross-site" || fetchSite.lowercased() == "same-site" {
            return "cross-site requests are refused"
        }
        if let origin {
            guard let host, origin.lowercased() == "http://\(host.lowercased())" || origin.lowercased() == "https://\(host.lowercased())" else {
                return "Origin \(origin) is not this admin server"
            }
        }
        let type = contentType?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        // The sign-in form is the one form post: it changes nothing but the browser's cookie.
        if path == "/login" && type == "application/x-www-form-urlencoded" { return nil }
        guard type == "application/json" else { return "state-changing requests need Content-Type: application/json" }
        return nil
    }

    /// The host part of a `Host` value: `name`, `name:port`, `[v6]`, `[v6]:port`.
    static func hostName(_ value: String) -> String {
        let v = value.lowercased()
        if v.hasPrefix("["), let close = v.firstIndex(of: "]") {
            return String(v[v.index(after: v.startIndex)..<close])
        }
        if let colon = v.lastIndex(of: ":"), v.firstIndex(of: ":") == colon { return String(v[..<colon]) }
        return v
    }

    static func isLoopbackName(_ name: String) -> Bool {
        if name == "localhost" || name.hasSuffix(".localhost") { return true }
        return IPAddressClass(address: name) == .loopback
    }
}

struct AdminGuardMiddleware: RouterMiddleware {
    typealias Context = AdminRequestContext
    let guardrail: AdminRequestGuard

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let fetchSite = HTTPField.Name("Sec-Fetch-Site")!
        if let reason = guardrail.refusal(method: request.method.rawValue, host: request.head.authority,
                                          origin: request.headers[.origin], contentType: request.headers[.contentType],
                                          fetchSite: request.headers[fetchSite], path: request.uri.path) {
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            return Response(status: .forbidden, headers: headers,
                            body: .init(byteBuffer: ByteBuffer(string: "{\"error\":\(JSONString.quote(reason))}")))
        }
        return try await next(request, context)
    }
}
