import Foundation
import StrataCore

/// A username and password for an upstream registry or its token realm.
public struct Credentials: Sendable, Hashable {
    public let username: String
    public let password: String
    /// Token realms the configuration names for these credentials (`scheme://host[:port]`),
    /// besides the tier's own origin.
    public let realms: [String]

    public init(username: String, password: String, realms: [String] = []) {
        self.username = username
        self.password = password
        self.realms = realms
    }

    /// Whether these credentials may go to the token realm `realm` that the tier at
    /// `tier` named in its challenge. The realm is an upstream's word, so the password
    /// goes only to: the tier's own origin (scheme, host and port); a realm the
    /// configuration names; or, over https, a host of the tier's own DNS domain (its
    /// last two labels: a registry whose token service is a sibling host). Anything
    /// else, an address literal or another port included, gets an anonymous request.
    public func mayAuthenticate(at realm: URL, for tier: URL?) -> Bool {
        guard let tier, let realmHost = realm.host?.lowercased(), let tierHost = tier.host?.lowercased(),
              let realmScheme = realm.scheme?.lowercased(), let tierScheme = tier.scheme?.lowercased() else { return false }
        func port(_ url: URL, _ scheme: String) -> Int { url.port ?? (scheme == "https" ? 443 : 80) }
        let realmOrigin = "\(realmScheme)://\(realmHost):\(port(realm, realmScheme))"
        if realmOrigin == "\(tierScheme)://\(tierHost):\(port(tier, tierScheme))" { return true }
        for named in realms {
            guard let url = URL(string: named), let host = url.host?.lowercased(), let scheme = url.scheme?.lowercased() else { continue }
            if realmOrigin == "\(scheme)://\(host):\(port(url, scheme))" { return true }
        }
        return realmScheme == "https" && Self.parentDomain(realmHost).map { $0 == Self.parentDomain(tierHost) } == true
    }

    /// The last two labels of a DNS name; nil for an address literal or a one-label name.
    static func parentDomain(_ host: String) -> String? {
        guard IPAddressClass(address: host) == nil, !host.hasPrefix("[") else { return nil }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, labels.allSatisfy({ !$0.isEmpty }) else { return nil }
        return labels.suffix(2).joined(separator: ".")
    }

    /// The `Authorization` value for HTTP Basic auth.
    public var basicAuthorization: String {
        "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
    }
}
