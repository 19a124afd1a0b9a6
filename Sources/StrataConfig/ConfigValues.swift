import Foundation

/// Parsers for the human-friendly values of the config file and the flags.
public enum ConfigValues {
    /// `90s`, `10m`, `1h`, `2d`, `500ms`, or a plain number of seconds.
    /// At most ``maxDuration``: longer values (or `inf`, `nan`) are refused, so that
    /// turning one into milliseconds cannot trap.
    public static func duration(_ text: String) -> TimeInterval? {
        let s = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        var seconds: Double? = nil
        for (suffix, factor) in units where s.hasSuffix(suffix) {
            if let n = Double(s.dropLast(suffix.count)), n >= 0 { seconds = n * factor; break }
        }
        if seconds == nil, let n = Double(s), n >= 0 { seconds = n }
        guard let seconds, seconds.isFinite, seconds <= maxDuration else { return nil }
        return seconds
    }

    /// The longest duration a config value may have: ten years.
    public static let maxDuration: TimeInterval = 10 * 365 * 86400

    /// `50GiB`, `500MB`, `1TiB`, `1024` (bytes).
    public static func size(_ text: String) -> Int64? {
        let s = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [
            ("KiB", 1024), ("MiB", 1_048_576), ("GiB", 1_073_741_824), ("TiB", 1_099_511_627_776),
            ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("B", 1),
        ]
        for (suffix, factor) in units where s.hasSuffix(suffix) {
            guard let n = Double(s.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), n >= 0 else { continue }
            let bytes = n * factor
            // Int64(bytes) would trap on inf or past 2^63: refuse instead.
            guard bytes.isFinite, bytes < 0x1p62 else { return nil }
            return Int64(bytes)
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
