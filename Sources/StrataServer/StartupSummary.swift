import Foundation
import StrataAdminModel
import StrataConfig
import StrataCore
import StrataMirror

/// What a person who just started Strata wants to read once it serves: where it
/// listens and how (TLS, logins), the dashboard's URL, the cache and its bounds, the
/// mode, and the tiers each registry's misses go to, in order.
public enum StartupSummary {
    /// `tiers`: every registry's chain as the engine walks it (its tier status).
    static func lines(_ configuration: StrataConfiguration, tiers: [TierStatus], instanceID: String, registryPort: Int, adminPort: Int?) -> [String] {
        let scheme = configuration.tlsCertificate == nil ? "http" : "https"
        let host = ConfigValues.address(configuration.listen)?.host ?? configuration.listen
        var lines = ["strata \(StrataVersion.current) (instance \(instanceID)) serving"]
        let login = configuration.htpasswd.map { "logins from \($0)" } ?? "no login"
        lines.append("  registry   \(scheme)://\(host):\(registryPort) (\(configuration.tlsCertificate == nil ? "plain HTTP" : "TLS"), \(login))")
        if let admin = configuration.adminListen, let adminPort {
            let adminHost = ConfigValues.address(admin)?.host ?? admin
            let token = configuration.adminTokenFile == nil ? "no token" : "token required"
            lines.append("  dashboard  \(scheme)://\(adminHost):\(adminPort)/ (\(token))")
        } else {
            lines.append("  dashboard  off (admin_listen: off)")
        }
        let bound = configuration.maxSize.map { "up to \(ByteFormat.format($0))" } ?? "no size bound"
        lines.append("  cache      \(configuration.cacheDirectory), \(bound), idle after \(Self.duration(configuration.maxIdle)), tags fresh for \(Self.duration(configuration.tagTTL))")
        lines.append("  mode       " + (configuration.cacheOnly ? "cache-only: serves what is cached, never contacts a tier" : "normal"))
        // The default registry first, then the others by name; each chain in walk order.
        let registries = Set(tiers.map(\.registry)).sorted { ($0 == configuration.defaultRegistry ? "" : $0) < ($1 == configuration.defaultRegistry ? "" : $1) }
        for registry in registries {
            let chain = tiers.filter { $0.registry == registry }.map { "\($0.name) \($0.url)" }
            lines.append("  \(registry): " + chain.joined(separator: " -> "))
        }
        return lines
    }

    /// `3h12m`, `45s`.
    public static func uptime(_ seconds: TimeInterval) -> String {
        let whole = max(0, Int(seconds))
        if whole >= 86400 { return "\(whole / 86400)d\(whole % 86400 / 3600)h" }
        if whole >= 3600 { return "\(whole / 3600)h\(whole % 3600 / 60)m" }
        if whole >= 60 { return "\(whole / 60)m\(whole % 60)s" }
        return "\(whole)s"
    }

    static func duration(_ seconds: TimeInterval) -> String {
        let whole = Int(seconds)
        if whole % 86400 == 0 && whole >= 86400 { return "\(whole / 86400)d" }
        if whole % 3600 == 0 && whole >= 3600 { return "\(whole / 3600)h" }
        if whole % 60 == 0 && whole >= 60 { return "\(whole / 60)m" }
        return "\(whole)s"
    }
}
