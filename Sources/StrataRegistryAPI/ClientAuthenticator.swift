import Foundation
import HummingbirdBcrypt
import NIOConcurrencyHelpers
import StrataCore

/// HTTP Basic authentication of clients on the registry port, against an htpasswd
/// file of bcrypt hashes (`htpasswd -B`).
///
/// bcrypt is slow on purpose, so a login that was verified is remembered for a few
/// minutes by a hash of the exact header value; a wrong password is never remembered.
/// Neither the password nor the header is logged or recorded anywhere.
public final class ClientAuthenticator: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    private let users: [String: String]
    private let verified = NIOLockedValueBox([String: Date]())
    private let remember: TimeInterval
    private let now: @Sendable () -> Date

    public init(htpasswdPath: String, remember: TimeInterval = 300, now: @escaping @Sendable () -> Date = Date.init) throws(Failure) {
        guard let data = FileManager.default.contents(atPath: htpasswdPath), let text = String(data: data, encoding: .utf8) else {
            throw Failure(description: "cannot read the htpasswd file \(htpasswdPath)")
        }
        var users: [String: String] = [:]
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            guard let colon = trimmed.firstIndex(of: ":") else {
                throw Failure(description: "\(htpasswdPath):\(number + 1): expected user:hash")
            }
            let hash = String(trimmed[trimmed.index(after: colon)...])
            guard hash.hasPrefix("$2y$") || hash.hasPrefix("$2b$") || hash.hasPrefix("$2a$") else {
                throw Failure(description: "\(htpasswdPath):\(number + 1): only bcrypt hashes are accepted (htpasswd -B)")
            }
            users[String(trimmed[..<colon])] = hash
        }
        guard !users.isEmpty else { throw Failure(description: "\(htpasswdPath) holds no users") }
        self.users = users
        self.remember = remember
        self.now = now
    }

    /// Whether an `Authorization` header value carries a valid login.
    public func isAuthorized(_ header: String?) -> Bool {
        guard let header, header.count < 4096, header.lowercased().hasPrefix("basic "),
              let decoded = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
              let login = String(data: decoded, encoding: .utf8), let colon = login.firstIndex(of: ":") else { return false }
        let key = Self.rememberedKey(header)
        let time = now()
        if let until = verified.withLockedValue({ $0[key] }), until > time { return true }
        let user = String(login[..<colon])
        let password = String(login[login.index(after: colon)...])
        guard var hash = users[user] else { return false }
        // $2y$ (Apache's htpasswd) is the same algorithm as $2b$.
        if hash.hasPrefix("$2y$") { hash = "$2b$" + hash.dropFirst(4) }
        guard Bcrypt.verify(password, hash: hash) else { return false }
        verified.withLockedValue { table in
            if table.count > 10_000 { table = table.filter { $0.value > time } }
            table[key] = time.addingTimeInterval(remember)
        }
        return true
    }

    /// Whether an `Authorization` header value is a login verified a short while ago,
    /// found without hashing a password (the event loop's check); false when it would
    /// take bcrypt to know.
    public func isRemembered(_ header: String?) -> Bool {
        guard let header, header.count < 4096 else { return false }
        let key = Self.rememberedKey(header)
        let time = now()
        return verified.withLockedValue { $0[key] }.map { $0 > time } ?? false
    }

    private static func rememberedKey(_ header: String) -> String {
        ContentHasher.digest(of: Array(header.utf8)).hex
    }
}
