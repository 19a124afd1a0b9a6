import Foundation

/// Bearer tokens per (realm, service, scope), kept until shortly before they expire.
actor TokenCache {
    struct Key: Hashable {
        let realm: String
        let service: String
        let scope: String
    }

    private var tokens: [Key: (token: String, expires: Date)] = [:]

    func token(for key: Key, now: Date) -> String? {
        guard let entry = tokens[key] else { return nil }
        if entry.expires <= now {
            tokens[key] = nil
            return nil
        }
        return entry.token
    }

    /// Keeps a token until `margin` before it expires: 30 s, or half its life if shorter.
    func store(_ token: String, for key: Key, expiresIn: Double, now: Date) {
        let life = max(1, expiresIn)
        let margin = min(30, life / 2)
        tokens[key] = (token, now.addingTimeInterval(life - margin))
    }

}
