import Foundation
import StrataMirror

/// A stacked bar chart of traffic per tier over time, as inline SVG (no script, no
/// external file): one bar per bucket, one colour per tier, the largest bar's value on
/// the axis.
struct TrafficChart {
    enum Measure { case requests, bytes }

    let id: String
    let title: String
    let buckets: [TrafficBucket]
    let measure: Measure
    /// What the left and right ends of the time axis are called (`-60 min`, `now`).
    let from: String
    let to: String

    static let width = 580
    static let height = 150
    static let plotTop = 10
    static let plotBottom = 120

    /// A steady colour per tier, so the charts and the legend agree.
    static func colour(_ tier: String) -> String {
        switch tier {
        case "local": "#2e7d32"
        case "shared": "#00897b"
        case "canonical": "#ef6c00"
        case "stale": "#8d6e63"
        case "none": "#bdbdbd"
        default: tier.hasPrefix("mirror/") ? "#1565c0" : "#6a1b9a"
        }
    }

    func value(_ tier: TrafficBucket.Tier) -> Double {
        measure == .requests ? Double(tier.requests) : Double(tier.bytes)
    }

    func label(_ value: Double) -> String {
        measure == .requests ? String(Int(value)) : ByteFormat.format(Int64(value))
    }

    func render() -> String {
        let tiers = Set(buckets.flatMap(\.tiers.keys)).sorted()
        let largest = buckets.map { $0.tiers.values.reduce(0) { $0 + value($1) } }.max() ?? 0
        let plotHeight = Double(Self.plotBottom - Self.plotTop)
        let left = 48.0, right = Double(Self.width) - 8
        let slot = (right - left) / Double(max(buckets.count, 1))
        var svg = "<figure class=chart><figcaption>\(DashboardPage.esc(title))</figcaption>"
        svg += "<svg id=\"\(id)\" role=\"img\" width=\"\(Self.width)\" height=\"\(Self.height)\" viewBox=\"0 0 \(Self.width) \(Self.height)\" xmlns=\"http://www.w3.org/2000/svg\">"
        svg += "<title>\(DashboardPage.esc(title))</title>"
        svg += "<line x1=\"\(left)\" y1=\"\(Self.plotBottom)\" x2=\"\(right)\" y2=\"\(Self.plotBottom)\" stroke=\"#999\"/>"
        svg += "<text x=\"\(left - 4)\" y=\"\(Self.plotTop + 8)\" text-anchor=\"end\" font-size=\"10\">\(largest > 0 ? label(largest) : "0")</text>"
        svg += "<text x=\"\(left - 4)\" y=\"\(Self.plotBottom)\" text-anchor=\"end\" font-size=\"10\">0</text>"
        for (index, bucket) in buckets.enumerated() where largest > 0 {
            var y = Double(Self.plotBottom)
            let x = left + Double(index) * slot
            for tier in tiers {
                guard let counts = bucket.tiers[tier], value(counts) > 0 else { continue }
                let h = max(1, value(counts) / largest * plotHeight)
                y -= h
                svg += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%@\"><title>%@: %@</title></rect>",
                              x, y, max(1, slot - 1), h, Self.colour(tier), DashboardPage.esc(tier), label(value(counts)))
            }
        }
        svg += "<text x=\"\(left)\" y=\"\(Self.plotBottom + 14)\" font-size=\"10\">\(DashboardPage.esc(from))</text>"
        svg += "<text x=\"\(right)\" y=\"\(Self.plotBottom + 14)\" text-anchor=\"end\" font-size=\"10\">\(DashboardPage.esc(to))</text>"
        var legend = left
        for tier in tiers {
            svg += "<rect x=\"\(legend)\" y=\"\(Self.plotBottom + 20)\" width=\"9\" height=\"9\" fill=\"\(Self.colour(tier))\"/>"
            svg += "<text x=\"\(legend + 12)\" y=\"\(Self.plotBottom + 28)\" font-size=\"10\">\(DashboardPage.esc(tier))</text>"
            legend += 18 + Double(tier.count) * 6
        }
        if largest == 0 {
            svg += "<text x=\"\((left + right) / 2)\" y=\"\(Self.plotBottom / 2 + 10)\" text-anchor=\"middle\" font-size=\"11\" fill=\"#777\">no traffic yet</text>"
        }
        svg += "</svg></figure>"
        return svg
    }
}
