import AsyncHTTPClient
import CCrypto
import Foundation
import Hummingbird
import Logging
import NIOCore

/// A Docker-Hub-style token server: `GET /token?service=&scope=` answers
/// `{"token","access_token","expires_in","issued_at"}` with an RS256 JWT that CNCF
/// distribution's `auth: token` accepts (the certificate rides in the `x5c` header).
///
/// Anonymous callers get `pull` on every repository; with `users`, a Basic login gets
/// `pull` and `push`, and a wrong password is refused.
public final class TokenServer: @unchecked Sendable {
    public let port: Int
    public let directory: String
    public let issuer = "strata-test-issuer"
    public let service = "strata-test-registry"
    public let users: [String: String]
    /// Repository name prefixes that anonymous callers may not pull.
    public let privatePrefixes: [String]
    public var realm: String { "http://127.0.0.1:\(port)/token" }
    public var certificatePath: String { "\(directory)/token.crt" }
    private var task: Task<Void, any Error>?
    private let requestLog = RequestLog()

    public init(users: [String: String] = [:], privatePrefixes: [String] = []) {
        self.port = FreePort.next()
        self.directory = makeTempDirectory("token")
        self.users = users
        self.privatePrefixes = privatePrefixes
    }

    /// Token requests served so far.
    public var tokenRequests: Int { requestLog.count }

    public func start() async throws {
        let key = "\(directory)/token.key"
        let (status, output) = try runCommand(which("openssl") ?? "/usr/bin/openssl", [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificatePath,
            "-days", "2", "-subj", "/CN=\(issuer)",
        ])
        guard status == 0 else { throw TestSupportError("openssl req failed: \(output)") }
        let signer = try RSASigner(keyPath: key)
        let certificateDER = try Self.der(of: certificatePath)
        let issuer = self.issuer
        let users = self.users
        let privatePrefixes = self.privatePrefixes
        let log = requestLog
        let responder = CallbackResponder<BasicRequestContext> { request, _ in
            log.add()
            guard request.uri.path == "/token" else { return Response(status: .notFound) }
            var user: String? = nil
            if let auth = request.headers[.authorization], auth.hasPrefix("Basic "),
               let decoded = Data(base64Encoded: String(auth.dropFirst(6))).map({ String(decoding: $0, as: UTF8.self) }) {
                let parts = decoded.split(separator: ":", maxSplits: 1).map(String.init)
                guard parts.count == 2, users[parts[0]] == parts[1] else {
                    return Response(status: .unauthorized, body: .init(byteBuffer: ByteBuffer(string: #"{"details":"incorrect username or password"}"#)))
                }
                user = parts[0]
            }
            let service = request.uri.queryParameters["service"].map(String.init) ?? ""
            var access: [String] = []
            for scope in request.uri.queryParameters.getAll("scope") {
                for part in scope.split(separator: " ") {
                    let bits = part.split(separator: ":").map(String.init)
                    guard bits.count >= 3 else { continue }
                    let actions = bits[bits.count - 1].split(separator: ",").map(String.init)
                    let name = bits[1..<(bits.count - 1)].joined(separator: ":")
                    let isPrivate = privatePrefixes.contains { name.hasPrefix($0) }
                    let granted = actions.filter { user != nil || ($0 == "pull" && !isPrivate) }
                    access.append(#"{"type":"\#(bits[0])","name":"\#(name)","actions":[\#(granted.map { "\"\($0)\"" }.joined(separator: ","))]}"#)
                }
            }
            let now = Int(Date().timeIntervalSince1970)
            let header = #"{"typ":"JWT","alg":"RS256","x5c":["\#(certificateDER.base64EncodedString())"]}"#
            let claims = #"{"iss":"\#(issuer)","sub":"\#(user ?? "")","aud":"\#(service)","exp":\#(now + 300),"nbf":\#(now - 10),"iat":\#(now),"jti":"\#(UUID().uuidString)","access":[\#(access.joined(separator: ","))]}"#
            let signingInput = Self.base64URL(Data(header.utf8)) + "." + Self.base64URL(Data(claims.utf8))
            let signature = try signer.sign(Array(signingInput.utf8))
            let token = signingInput + "." + Self.base64URL(Data(signature))
            let body = #"{"token":"\#(token)","access_token":"\#(token)","expires_in":300,"issued_at":"\#(ISO8601DateFormatter().string(from: Date()))"}"#
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        var logger = Logger(label: "token-server")
        logger.logLevel = .warning
        let app = Application(responder: responder, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: logger)
        task = Task { try await app.run() }
        try await waitUntilAnswering("http://127.0.0.1:\(port)/ready")
    }

    public func stop() {
        task?.cancel()
    }

    /// The registry settings that make distribution trust this server's tokens.
    public var registryMode: DistributionRegistry.Mode {
        .token(realm: realm, service: service, issuer: issuer, certificatePath: certificatePath)
    }

    /// Logs in as `user` and returns a token for `scope`, as `docker login` + push would.
    public func token(user: String, password: String, scope: String) async throws -> String {
        var request = HTTPClientRequest(url: "\(realm)?service=\(service)&scope=\(scope)")
        request.headers.add(name: "Authorization", value: "Basic " + Data("\(user):\(password)".utf8).base64EncodedString())
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        struct Answer: Decodable { let token: String }
        guard response.status == .ok, let answer = try? JSONDecoder().decode(Answer.self, from: Data(body.readableBytesView)) else {
            throw TestSupportError("token server refused \(user) for \(scope): \(response.status)")
        }
        return answer.token
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func der(of pemPath: String) throws -> Data {
        let pem = try String(contentsOfFile: pemPath, encoding: .utf8)
        let body = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        guard let der = Data(base64Encoded: body) else { throw TestSupportError("bad PEM in \(pemPath)") }
        return der
    }
}

final class RequestLog: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func add() { lock.lock(); value += 1; lock.unlock() }
    var count: Int { lock.lock(); defer { lock.unlock() }; return value }
}

/// RS256 signing with OpenSSL's libcrypto.
final class RSASigner: @unchecked Sendable {
    private let key: OpaquePointer

    init(keyPath: String) throws {
        guard let file = fopen(keyPath, "r") else { throw TestSupportError("cannot open \(keyPath)") }
        defer { fclose(file) }
        guard let key = PEM_read_PrivateKey(file, nil, nil, nil) else { throw TestSupportError("cannot read key \(keyPath)") }
        self.key = key
    }

    deinit { EVP_PKEY_free(key) }

    func sign(_ message: [UInt8]) throws -> [UInt8] {
        guard let ctx = EVP_MD_CTX_new() else { throw TestSupportError("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestSignInit(ctx, nil, EVP_sha256(), nil, key) == 1 else { throw TestSupportError("DigestSignInit") }
        var length = 0
        guard EVP_DigestSign(ctx, nil, &length, message, message.count) == 1 else { throw TestSupportError("DigestSign size") }
        var signature = [UInt8](repeating: 0, count: length)
        guard EVP_DigestSign(ctx, &signature, &length, message, message.count) == 1 else { throw TestSupportError("DigestSign") }
        return Array(signature.prefix(length))
    }
}
