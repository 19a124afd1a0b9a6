import Foundation
import StrataCore
import StrataMirror

/// The admin dashboard: one server-rendered HTML page that refreshes itself.
struct DashboardPage {
    let stats: Ledger.Stats
    let tiers: [MirrorEngine.TierStatus]
    let recent: [LedgerRecord]
    let cache: MirrorEngine.CacheSummary?
    let instanceID: String
    var cacheOnly = false

    func render() -> String {
        var html = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
            <title>Strata \(esc(instanceID))</title>
            <style>
            body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
            h1{font-size:1.3em}h2{font-size:1.05em;margin-top:1.6em}
            table{border-collapse:collapse;min-width:40em}th,td{padding:.25em .7em;border-bottom:1px solid #ddd;text-align:left}
            th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td.t{white-space:nowrap}
            .open{color:#b00;font-weight:bold}.ok{color:#070}.muted{color:#777}
            </style></head><body>
            <h1>Strata <span class="muted">strata-\(esc(instanceID)) \(esc(StrataVersion.current))</span></h1>
            <p id="mode">Mode: <b>\(cacheOnly ? "cache-only</b>: serves what is cached, never contacts a tier" : "normal</b>")</p>
            <p>Hit ratio (since start): <b id="hit-ratio">\(percent(stats.total.hitRatio))</b>,
            last 5 minutes: <b>\(percent(stats.last5m.hitRatio))</b>.
            Upstream bytes saved: <b>\(bytes(stats.total.upstreamBytesSaved))</b>.
            """
        if let cache {
            html += " Cache: \(cache.repositories.count) repositories, \(cache.blobs) blobs, \(bytes(cache.storedBytes)) on disk."
        }
        html += "</p>\n<h2>Which tier served</h2>\n<table id=\"tier-breakdown\"><tr><th>tier</th><th>requests</th><th>bytes</th><th>requests, 5 min</th><th>requests, 1 h</th></tr>\n"
        for tier in stats.total.tiers.keys.sorted() {
            let total = stats.total.tiers[tier]
            html += "<tr><td>\(esc(tier))</td><td class=n>\(total?.requests ?? 0)</td><td class=n>\(bytes(total?.bytes ?? 0))</td>"
            html += "<td class=n>\(stats.last5m.tiers[tier]?.requests ?? 0)</td><td class=n>\(stats.last1h.tiers[tier]?.requests ?? 0)</td></tr>\n"
        }
        html += "</table>\n<h2>Tier health</h2>\n<table id=\"tier-health\"><tr><th>tier</th><th>registry</th><th>url</th><th>breaker</th><th>latency</th><th>rate limit left</th><th>last error</th></tr>\n"
        for tier in tiers {
            let breaker = tier.breaker == "closed" ? "<span class=ok>closed</span>" : "<span class=open>\(esc(tier.breaker))</span>"
            html += "<tr><td>\(esc(tier.name))</td><td>\(esc(tier.registry))</td><td>\(esc(tier.url))</td><td>\(breaker)\(tier.misconfigured ? " <span class=open>credentials refused</span>" : "")</td>"
            html += "<td class=n>\(tier.latencySeconds.map { String(format: "%.0f ms", $0 * 1000) } ?? "")</td><td>\(esc(tier.rateLimitBudget))</td>"
            html += "<td>\(esc(tier.lastError ?? ""))</td></tr>\n"
        }
        html += "</table>\n<h2>Recent requests</h2>\n<table id=\"recent\"><tr><th>time (UTC)</th><th>client</th><th>request</th><th>status</th><th>bytes</th><th>ms</th><th>tier</th><th>attempts</th></tr>\n"
        let time = DateFormatter()
        time.dateFormat = "HH:mm:ss"
        time.timeZone = TimeZone(identifier: "UTC")
        for record in recent {
            let attempts = record.attempts.map { "\($0.tier)=\($0.outcome)" }.joined(separator: " ")
            html += "<tr><td class=t>\(time.string(from: record.time))</td><td>\(esc(record.client))\(record.via.map { " <span class=muted>via \(esc($0))</span>" } ?? "")</td><td>\(esc(record.method)) \(esc(record.path))</td>"
            html += "<td class=n>\(record.status)</td><td class=n>\(bytes(record.bytes))</td><td class=n>\(String(format: "%.1f", record.seconds * 1000))</td>"
            html += "<td>\(esc(record.tierPath.isEmpty ? record.tier : record.tierPath.joined(separator: " → ")))</td><td>\(esc(attempts))</td></tr>\n"
        }
        html += "</table>\n</body></html>\n"
        return html
    }

    func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    func percent(_ ratio: Double?) -> String {
        ratio.map { String(format: "%.1f%%", $0 * 100) } ?? "n/a"
    }

    func bytes(_ n: Int64) -> String {
        ByteFormat.format(n)
    }
}
