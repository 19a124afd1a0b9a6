import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import StrataCore

/// Signing in to a token-protected admin port from a browser: a form that takes the
/// token and sets a cookie, which the browser then sends with every request.
///
/// The cookie holds `HMAC-SHA256(token, "strata-admin-session")`, not the token: it is
/// valid while the token is, across restarts, and changing the token signs everyone
/// out. It is `HttpOnly` and `SameSite=Strict` (no other site's page sends it), and the
/// ``AdminRequestGuard`` still checks `Host`, `Origin` and `Sec-Fetch-Site`.
struct AdminLogin: Sendable {
    static let cookieName = "strata_admin"
    let token: String
    /// The cookie's value for this token.
    let session: String

    init(token: String) {
        self.token = token
        self.session = HMAC.sha256(key: Array(token.utf8), Array("strata-admin-session".utf8)).hexString
    }

    /// Whether a `Cookie` header carries this port's session.
    func isSignedIn(_ cookies: String?) -> Bool {
        guard let cookies, cookies.utf8.count <= 8192 else { return false }
        for pair in cookies.split(separator: ";") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, parts[0] == Self.cookieName,
               AdminAuthMiddleware.constantTimeEqual(Array(parts[1].utf8), Array(session.utf8)) { return true }
        }
        return false
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

    func routes(_ router: Router<BasicRequestContext>) {
        router.get("/login") { _, _ in Self.page(status: .ok, message: nil) }
        router.post("/login") { request, _ in
            let body = try await request.body.collect(upTo: 4096)
            guard let presented = Self.formToken(String(buffer: body)),
                  AdminAuthMiddleware.constantTimeEqual(Array(presented.utf8), Array(token.utf8)) else {
                return Self.page(status: .unauthorized, message: "That is not this admin server's token.")
            }
            var headers = HTTPFields()
            headers[.location] = "/"
            headers[.setCookie] = "\(Self.cookieName)=\(session); Path=/; HttpOnly; SameSite=Strict; Max-Age=604800"
            return Response(status: .seeOther, headers: headers)
        }
        router.get("/logout") { _, _ in
            var headers = HTTPFields()
            headers[.location] = "/login"
            headers[.setCookie] = "\(Self.cookieName)=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
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
    typealias Context = BasicRequestContext
    let token: String
    let login: AdminLogin

    init(token: String) {
        self.token = token
        self.login = AdminLogin(token: token)
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
