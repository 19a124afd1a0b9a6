import Foundation

/// Parsers for the human-friendly values of the config file and the flags.
public enum ConfigValues {
    /// `90s`, `10m`, `1h`, `2d`, `500ms`, or a plain number of seconds.
    public static func duration(_ text: String) -> TimeInterval? {
        let s = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        for (suffix, factor) in units where s.hasSuffix(suffix) {
            if let n = Double(s.dropLast(suffix.count)), n >= 0 { return n * factor }
        }
        if let n = Double(s), n >= 0 { return n }
        return nil
    }

    /// `50GiB`, `500MB`, `1TiB`, `1024` (bytes).
    public static func size(_ text: String) -> Int64? {
        let s = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [
            ("KiB", 1024), ("MiB", 1_048_576), ("GiB", 1_073_741_824), ("TiB", 1_099_511_627_776),
            ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("B", 1),
        ]
        for (suffix, factor) in units where s.hasSuffix(suffix) {
            if let n = Double(s.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), n >= 0 { return Int64(n * factor) }
        }
        return Int64(s).flatMap { $0 >= 0 ? $0 : nil }
    }

    /// `host:port`, `:port` (all interfaces) or `[v6]:port`.
    public static func address(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        guard let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { host = "0.0.0.0" }
        return (host, port)
    }
}
