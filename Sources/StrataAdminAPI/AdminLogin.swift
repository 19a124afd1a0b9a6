import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import StrataCore

/// Signing in to a token-protected admin port from a browser: a form that takes the
/// token and sets a cookie, which the browser then sends with every request.
///
/// The cookie holds a random session id (``AdminSessions``) that expires, ends at
/// sign-out and at a restart; it is `HttpOnly`, `SameSite=Strict` (no other site's page
/// sends it) and `Secure` when the port serves HTTPS, and the ``AdminRequestGuard``
/// still checks `Host`, `Origin` and `Sec-Fetch-Site`. Failed sign-ins are throttled
/// per address (``LoginThrottle``) and logged once per burst.
struct AdminLogin: Sendable {
    static let cookieName = "strata_admin"
    let token: String
    let sessions: AdminSessions
    /// The port serves HTTPS: the cookie goes over it only.
    let secure: Bool
    let logger: Logger
    let now: @Sendable () -> Date
    private let throttle = NIOLockedValueBox(LoginThrottle())

    init(token: String, secure: Bool, logger: Logger, sessions: AdminSessions = AdminSessions(), now: @escaping @Sendable () -> Date = Date.init) {
        self.token = token
        self.secure = secure
        self.logger = logger
        self.sessions = sessions
        self.now = now
    }

    /// The session id a `Cookie` header carries, if any.
    static func sessionID(_ cookies: String?) -> String? {
        guard let cookies, cookies.utf8.count <= 8192 else { return nil }
        for pair in cookies.split(separator: ";") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, parts[0] == Self.cookieName { return parts[1] }
        }
        return nil
    }

    /// Whether a `Cookie` header carries a live session of this port.
    func isSignedIn(_ cookies: String?) -> Bool {
        Self.sessionID(cookies).map(sessions.isValid) ?? false
    }

    /// `token=...` from a form body (`application/x-www-form-urlencoded`).
    static func formToken(_ body: String) -> String? {
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0] == "token" else { continue }
            return String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
        }
        return nil
    }

    private var cookieAttributes: String { "Path=/; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "") }

    func routes(_ router: Router<AdminRequestContext>) {
        router.get("/login") { _, _ in Self.page(status: .ok, message: nil) }
        router.post("/login") { request, context in
            let address = context.clientAddress
            if case .wait(let seconds) = throttle.withLockedValue({ $0.decide(address, now: now()) }) {
                var response = Self.page(status: .tooManyRequests, message: "Too many wrong tokens from this address: try again in \(seconds) s.")
                response.headers[.retryAfter] = String(seconds)
                return response
            }
            let body = try await request.body.collect(upTo: 4096)
            guard let presented = Self.formToken(String(buffer: body)),
                  AdminAuthMiddleware.constantTimeEqual(Array(presented.utf8), Array(token.utf8)) else {
                if case .firstOfBurst = throttle.withLockedValue({ $0.failed(address, now: now()) }) {
                    logger.warning("admin sign-in with a wrong token; more from this address within a minute are throttled, not logged",
                                   metadata: ["client": "\(address)"])
                }
                return Self.page(status: .unauthorized, message: "That is not this admin server's token.")
            }
            throttle.withLockedValue { $0.succeeded(address) }
            var headers = HTTPFields()
            headers[.location] = "/"
            headers[.setCookie] = "\(Self.cookieName)=\(sessions.start()); \(cookieAttributes); Max-Age=\(Int(sessions.lifetime))"
            return Response(status: .seeOther, headers: headers)
        }
        router.get("/logout") { request, _ in
            if let id = Self.sessionID(request.headers[.cookie]) { sessions.end(id) }
            var headers = HTTPFields()
            headers[.location] = "/login"
            headers[.setCookie] = "\(Self.cookieName)=; \(cookieAttributes); Max-Age=0"
            return Response(status: .seeOther, headers: headers)
        }
    }

    static func page(status: HTTPResponse.Status, message: String?) -> Response {
        let html = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
            <title>Strata: sign in</title>
            <style>\(DashboardPage.style) form{margin-top:1em}input{font:inherit;padding:.3em;width:28em;max-width:90%}button{font:inherit;padding:.3em 1em}</style>
            </head><body>
            <h1>Strata</h1>
            <p>This admin server needs its token (the contents of <code>admin.token_file</code>).</p>
            \(message.map { "<p class=open id=\"login-error\">\(DashboardPage.esc($0))</p>" } ?? "")
            <form id="login" method="post" action="/login">
            <label>Token <input type="password" name="token" autocomplete="current-password" autofocus required></label>
            <button type="submit">Sign in</button>
            </form>
            </body></html>

            """
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}

/// Every request needs `Authorization: Bearer <token>` or the session cookie, except
/// the probes (`/healthz`, `/readyz`: they say only ready or not) and the sign-in page.
/// A browser that is not signed in is sent to the sign-in page.
struct AdminAuthMiddleware: RouterMiddleware {
    typealias Context = AdminRequestContext
    let token: String
    let login: AdminLogin

    init(token: String, login: AdminLogin) {
        self.token = token
        self.login = login
    }

    static let open: Set<String> = ["/healthz", "/readyz", "/login"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.open.contains(request.uri.path) { return try await next(request, context) }
        let presented = request.headers[.authorization] ?? ""
        if Self.constantTimeEqual(Array(presented.utf8), Array("Bearer \(token)".utf8)) || login.isSignedIn(request.headers[.cookie]) {
            return try await next(request, context)
        }
        if request.method == .get, request.headers[.accept]?.contains("text/html") == true {
            var headers = HTTPFields()
            headers[.location] = "/login"
            return Response(status: .seeOther, headers: headers)
        }
        var headers = HTTPFields()
        headers[.wwwAuthenticate] = "Bearer realm=\"strata-admin\""
        headers[.contentType] = "application/json"
        return Response(status: .unauthorized, headers: headers,
                        body: .init(byteBuffer: ByteBuffer(string: #"{"error":"admin token required"}"#)))
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}
