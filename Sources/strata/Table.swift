/// A plain-text table with aligned columns, for people. Every cell is made printable:
/// names, platforms and errors come from upstreams, and a terminal must not obey them.
struct Table {
    let headers: [String]
    var rows: [[String]] = []

    func render() -> String {
        let rows = self.rows.map { $0.map { PrintableText.make($0, limit: 512) } }
        let widths = headers.indices.map { i in ([headers[i]] + rows.map { $0.indices.contains(i) ? $0[i] : "" }).map(\.count).max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in
                i == cells.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        return ([line(headers)] + rows.map(line)).joined(separator: "\n") + "\n"
    }
}

import Foundation
import StrataAdminModel
import StrataCore

enum Format {
    static func bytes(_ n: Int64) -> String {
        ByteFormat.format(n)
    }

    static func percent(_ ratio: Double?) -> String {
        ratio.map { String(format: "%.1f%%", $0 * 100) } ?? "n/a"
    }

    static func age(_ date: Date?, now: Date = Date()) -> String {
        guard let date else { return "-" }
        let seconds = Int(now.timeIntervalSince(date))
        if seconds < 60 { return "\(max(0, seconds))s ago" }
        if seconds < 3600 { return "\(seconds / 60)m ago" }
        if seconds < 86400 { return "\(seconds / 3600)h ago" }
        return "\(seconds / 86400)d ago"
    }

    static func shortDigest(_ digest: String) -> String {
        guard let colon = digest.firstIndex(of: ":") else { return digest }
        return String(digest[..<colon]) + ":" + digest[digest.index(after: colon)...].prefix(12)
    }
}
