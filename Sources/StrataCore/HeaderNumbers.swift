import Foundation

/// Numbers that arrive in HTTP headers from clients and upstreams, parsed so that no
/// value, however large or odd, can trap later arithmetic.
public enum HeaderNumbers {
    /// The largest size taken from a header: 2^62 bytes. Any sum of two such sizes, or
    /// of one and an offset into it, still fits an `Int64`.
    public static let maxSize: Int64 = 1 << 62

    /// Longest `Retry-After` honoured: a tier that asks for more is retried after an hour.
    public static let maxRetryAfter: TimeInterval = 3600

    /// A `Content-Length` value: ASCII digits only (no sign, no spaces inside), at most
    /// ``maxSize``. Anything else is nil: the caller treats the length as unknown or
    /// the answer as invalid.
    public static func contentLength(_ text: String) -> Int64? {
        let digits = text.utf8.drop(while: { $0 == 0x20 || $0 == 0x09 })
        let trimmed = digits.reversed().drop(while: { $0 == 0x20 || $0 == 0x09 }).reversed()
        guard !trimmed.isEmpty, trimmed.count <= 19, trimmed.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        var value: Int64 = 0
        for byte in trimmed {
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(Int64(byte - 0x30))
            guard !o1, !o2 else { return nil }
            value = sum
        }
        return value <= maxSize ? value : nil
    }

    /// The complete length from a `Content-Range` value: `bytes 0-0/1234` or
    /// `bytes */1234` is 1234; an unknown length (`/*`) or anything else is nil.
    public static func contentRangeTotal(_ text: String) -> Int64? {
        guard text.utf8.count <= 100, text.hasPrefix("bytes "), let slash = text.lastIndex(of: "/") else { return nil }
        return contentLength(String(text[text.index(after: slash)...]))
    }

    /// The bytes a `206` carries, from `bytes <first>-<last>/<total or *>`: as a
    /// half-open range, with the total when known. nil for `bytes */...`, a range that
    /// ends before it starts or past the total, or anything else.
    public static func contentRange(_ text: String) -> (range: Range<Int64>, total: Int64?)? {
        guard text.utf8.count <= 100, text.hasPrefix("bytes "), let slash = text.lastIndex(of: "/") else { return nil }
        let span = text[text.index(text.startIndex, offsetBy: 6)..<slash].split(separator: "-", omittingEmptySubsequences: false)
        guard span.count == 2, let first = contentLength(String(span[0])), let last = contentLength(String(span[1])), first <= last else { return nil }
        let totalText = String(text[text.index(after: slash)...])
        let total = totalText == "*" ? nil : contentLength(totalText)
        if totalText != "*" {
            guard let total, last < total else { return nil }
        }
        return (first..<(last + 1), total)
    }

    /// A `Retry-After` value as seconds from `now`: delay-seconds or an HTTP-date,
    /// clamped to `0...maxRetryAfter`. nil when it is neither.
    public static func retryAfter(_ text: String, now: Date) -> TimeInterval? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if !trimmed.isEmpty, trimmed.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            // Long digit strings are simply "a long time".
            guard trimmed.utf8.count <= 9, let seconds = Int(trimmed) else { return maxRetryAfter }
            return min(TimeInterval(seconds), maxRetryAfter)
        }
        // Parsed by hand: Foundation's DateFormatter traps on some invalid UTF-8 (found by
        // the header-numbers fuzzer), and an upstream chooses these bytes.
        guard let date = imfFixdate(trimmed) else { return nil }
        let seconds = date.timeIntervalSince(now)
        guard seconds.isFinite else { return nil }
        return min(max(0, seconds), maxRetryAfter)
    }

    /// `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110's IMF-fixdate), ASCII only; the
    /// obsolete RFC 850 and asctime forms are not taken.
    static func imfFixdate(_ text: String) -> Date? {
        let b = Array(text.utf8)
        guard b.count == 29, b[3] == UInt8(ascii: ","), b[4] == 0x20, b[7] == 0x20, b[11] == 0x20, b[16] == 0x20,
              b[19] == UInt8(ascii: ":"), b[22] == UInt8(ascii: ":"), b[25] == 0x20,
              Array(b[26...]) == Array("GMT".utf8) else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for i in range {
                guard b[i] >= 0x30 && b[i] <= 0x39 else { return nil }
                value = value * 10 + Int(b[i] - 0x30)
            }
            return value
        }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard let day = number(5..<7), let year = number(12..<16), let hour = number(17..<19),
              let minute = number(20..<22), let second = number(23..<25),
              let monthIndex = months.firstIndex(where: { Array($0.utf8) == Array(b[8..<11]) }),
              (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        let seconds = CivilTime.secondsSince1970(year: year, month: monthIndex + 1, day: day, hour: hour, minute: minute, second: second)
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }
}

extension Int64 {
    /// `self + other`, pinned to `Int64.max` / `Int64.min` instead of trapping.
    public func saturatingAdd(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        guard overflow else { return sum }
        return other > 0 ? .max : .min
    }
}
