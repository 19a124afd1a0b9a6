import Foundation
import StrataCore
import StrataMirror

/// The admin dashboard: one server-rendered HTML page that refreshes itself, with its
/// charts as inline SVG. Nothing on it loads from elsewhere, and it runs no script.
struct DashboardPage {
    let stats: Ledger.Stats
    let tiers: [MirrorEngine.TierStatus]
    let recent: [LedgerRecord]
    let cache: MirrorEngine.CacheSummary?
    let instanceID: String
    var cacheOnly = false
    var now = Date()
    /// The cache's bytes on disk, and its bound (`cache.max_size`; nil: unbounded).
    var storedBytes: Int64?
    var maxBytes: Int64?
    /// Per-minute buckets for the last hour, and 15-minute buckets for the last day.
    var lastHour: [TrafficBucket] = []
    var lastDay: [TrafficBucket] = []
    var topRepositories: [RepositoryTraffic] = []
    var prefetch: PrefetchActivity?
    /// The port wants a token: the page offers a way out.
    var signedIn = false

    static let style = """
        body{font:14px/1.4 system-ui,sans-serif;margin:1.2em auto;max-width:1240px;padding:0 1em;color:#222}
        h1{font-size:1.3em;margin-bottom:.2em}h2{font-size:1.05em;margin:1.4em 0 .4em}
        table{border-collapse:collapse;width:100%}th,td{padding:.25em .6em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
        th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td.t{white-space:nowrap}
        td.p{overflow-wrap:anywhere}
        .open{color:#b00;font-weight:bold}.ok{color:#070}.muted{color:#777}
        .facts{display:flex;flex-wrap:wrap;gap:.4em 1.6em;margin:.4em 0}
        .bar{display:inline-block;width:12em;height:.8em;background:#e0e0e0;vertical-align:middle;border-radius:2px}
        .bar>span{display:block;height:100%;background:#2e7d32;border-radius:2px}.bar>span.full{background:#b00}
        .charts{display:flex;flex-wrap:wrap;gap:1em}figure.chart{margin:0}figcaption{font-weight:600;margin-bottom:.2em}
        .signout{float:right;font-size:.9em}
        """

    func render() -> String {
        var html = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="10">
            <meta name="viewport" content="width=device-width">
            <title>Strata \(esc(instanceID))</title>
            <style>\(Self.style)</style></head><body>
            \(signedIn ? "<a class=signout href=\"/logout\">sign out</a>" : "")
            <h1>Strata <span class="muted">strata-\(esc(instanceID))</span></h1>
            <div class="facts">
            <span id="version">version <b>\(esc(StrataVersion.current))</b></span>
            <span id="uptime">up <b>\(Self.duration(now.timeIntervalSince(stats.since)))</b> (since \(Self.clock(stats.since)) UTC)</span>
            <span id="mode">Mode: <b>\(cacheOnly ? "cache-only</b>: serves what is cached, never contacts a tier" : "normal</b>")</span>
            \(diskUse())
            </div>
            <p>Hit ratio (clients' manifests and blobs, since start): <b id="hit-ratio">\(percent(stats.total.hitRatio))</b>,
            last 5 minutes: <b>\(percent(stats.last5m.hitRatio))</b>, last hour: <b>\(percent(stats.last1h.hitRatio))</b>.
            Upstream bytes saved: <b>\(bytes(stats.total.upstreamBytesSaved))</b>.
            """
        if let cache {
            html += " Cached: \(cache.repositories.count) repositories, \(cache.blobs) blobs."
        }
        html += "</p>\n<div class=\"charts\" id=\"charts\">\n"
        html += TrafficChart(id: "chart-requests-hour", title: "Requests per minute, last hour", buckets: lastHour, measure: .requests, from: "-60 min", to: "now").render()
        html += TrafficChart(id: "chart-bytes-hour", title: "Bytes served per minute, last hour", buckets: lastHour, measure: .bytes, from: "-60 min", to: "now").render()
        html += TrafficChart(id: "chart-requests-day", title: "Requests per 15 minutes, last day", buckets: lastDay, measure: .requests, from: "-24 h", to: "now").render()
        html += TrafficChart(id: "chart-bytes-day", title: "Bytes served per 15 minutes, last day", buckets: lastDay, measure: .bytes, from: "-24 h", to: "now").render()
        html += "</div>\n"
        html += tierBreakdown() + tierHealth() + repositories() + prefetchActivity() + recentRequests()
        html += "</body></html>\n"
        return html
    }

    private func diskUse() -> String {
        guard let storedBytes else { return "" }
        guard let maxBytes, maxBytes > 0 else {
            return "<span id=\"disk-use\">Disk: <b>\(bytes(storedBytes))</b> (no size bound)</span>"
        }
        let fraction = min(1, Double(storedBytes) / Double(maxBytes))
        return "<span id=\"disk-use\">Disk: <b>\(bytes(storedBytes))</b> of \(bytes(maxBytes)) (\(percent(fraction)))"
            + " <span class=bar><span\(fraction > 0.95 ? " class=full" : "") style=\"width:\(String(format: "%.1f", fraction * 100))%\"></span></span></span>"
    }

    private func tierBreakdown() -> String {
        var html = "<h2>Which tier served</h2>\n<table id=\"tier-breakdown\"><tr><th>tier</th><th>requests</th><th>bytes</th><th>requests, 5 min</th><th>requests, 1 h</th></tr>\n"
        for tier in stats.total.tiers.keys.sorted() {
            let total = stats.total.tiers[tier]
            var requests = total?.requests ?? 0, five = stats.last5m.tiers[tier]?.requests ?? 0, hour = stats.last1h.tiers[tier]?.requests ?? 0
            // Version checks (`GET /v2/`) are served by no tier: counted apart, not as traffic.
            if tier == "none" {
                requests -= stats.total.pings
                five -= stats.last5m.pings
                hour -= stats.last1h.pings
                if requests == 0 && five == 0 && hour == 0 { continue }
            }
            html += "<tr><td>\(esc(tier))</td><td class=n>\(requests)</td><td class=n>\(bytes(total?.bytes ?? 0))</td>"
            html += "<td class=n>\(five)</td><td class=n>\(hour)</td></tr>\n"
        }
        html += "</table>\n<p class=muted id=\"pings\">And \(stats.total.pings) API version checks (<code>GET /v2/</code>), which no tier serves.</p>\n"
        return html
    }

    private func tierHealth() -> String {
        var html = "<h2>Tier health</h2>\n<table id=\"tier-health\"><tr><th>tier</th><th>registry</th><th>url</th><th>breaker</th><th>latency</th><th>rate limit left</th><th>last error</th></tr>\n"
        for tier in tiers {
            let breaker = tier.breaker == "closed" ? "<span class=ok>closed</span>" : "<span class=open>\(esc(tier.breaker))</span>"
            html += "<tr><td>\(esc(tier.name))</td><td>\(esc(tier.registry))</td><td class=p>\(esc(tier.url))</td><td>\(breaker)\(tier.misconfigured ? " <span class=open>credentials refused</span>" : "")</td>"
            html += "<td class=n>\(tier.latencySeconds.map { String(format: "%.0f ms", $0 * 1000) } ?? "")</td><td class=n>\(esc(tier.rateLimitBudget))</td>"
            var error = ""
            if let at = tier.lastErrorAt {
                error = "<span class=\"t error-time\">\(Self.clock(at)) UTC, \(Self.duration(now.timeIntervalSince(at))) ago</span>: "
            }
            html += "<td class=p>\(error)\(esc(tier.lastError ?? ""))</td></tr>\n"
        }
        return html + "</table>\n"
    }

    private func repositories() -> String {
        var html = "<h2>Top repositories</h2>\n<table id=\"top-repositories\"><tr><th>repository</th><th>requests</th><th>hit ratio</th><th>bytes served</th></tr>\n"
        for repository in topRepositories {
            html += "<tr><td class=p>\(esc(repository.repository))</td><td class=n>\(repository.requests)</td>"
            html += "<td class=n>\(percent(repository.hitRatio))</td><td class=n>\(bytes(repository.bytes))</td></tr>\n"
        }
        if topRepositories.isEmpty { html += "<tr><td colspan=4 class=muted>no content requested yet</td></tr>\n" }
        return html + "</table>\n"
    }

    private func prefetchActivity() -> String {
        guard let prefetch else { return "" }
        let last = prefetch.last.map { "the last at \(Self.clock($0)) UTC (\(Self.duration(now.timeIntervalSince($0))) ago)" } ?? "none since start"
        return "<h2>Prefetch</h2>\n<p id=\"prefetch\">Last hour: \(prefetch.lastHour) manifests and blobs, \(bytes(prefetch.lastHourBytes)) fetched; "
            + "last day: \(prefetch.lastDay), \(bytes(prefetch.lastDayBytes)); \(last).</p>\n"
    }

    private func recentRequests() -> String {
        var html = "<h2>Recent requests</h2>\n<table id=\"recent\"><tr><th>time (UTC)</th><th>client</th><th>request</th><th>status</th><th>bytes</th><th>ms</th><th>tier</th><th>attempts</th></tr>\n"
        for record in recent {
            let attempts = record.attempts.map { "\($0.tier)=\($0.outcome)" }.joined(separator: " ")
            html += "<tr><td class=t>\(Self.clock(record.time))</td><td>\(esc(record.client))\(record.via.map { " <span class=muted>via \(esc($0))</span>" } ?? "")</td><td class=p>\(esc(record.method)) \(esc(record.path))</td>"
            html += "<td class=n>\(record.status)</td><td class=n>\(bytes(record.bytes))</td><td class=n>\(String(format: "%.1f", record.seconds * 1000))</td>"
            html += "<td>\(esc(record.tierPath.isEmpty ? record.tier : record.tierPath.joined(separator: " → ")))</td><td class=p>\(esc(attempts))</td></tr>\n"
        }
        return html + "</table>\n"
    }

    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    func esc(_ s: String) -> String { Self.esc(s) }

    func percent(_ ratio: Double?) -> String {
        ratio.map { String(format: "%.1f%%", $0 * 100) } ?? "n/a"
    }

    func bytes(_ n: Int64) -> String {
        ByteFormat.format(n)
    }

    /// `14:05:09`, in UTC.
    static func clock(_ date: Date) -> String {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        let day = ((seconds % 86400) + 86400) % 86400
        return String(format: "%02d:%02d:%02d", day / 3600, day % 3600 / 60, day % 60)
    }

    /// `45s`, `12m`, `3h 5m`, `2d 4h`.
    static func duration(_ seconds: TimeInterval) -> String {
        let s = max(0, Int(seconds))
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m" }
        if s < 86400 { return "\(s / 3600)h \(s % 3600 / 60)m" }
        return "\(s / 86400)d \(s % 86400 / 3600)h"
    }
}
