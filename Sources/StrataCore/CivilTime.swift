/// Seconds since 1970 for a UTC civil date and time, without a calendar (Howard
/// Hinnant's days-from-civil): the parsers of dates that upstreams send use it.
enum CivilTime {
    /// `month` 1...12; the caller has checked the ranges.
    static func secondsSince1970(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = y / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146097 + doe - 719468
        return days * 86400 + hour * 3600 + minute * 60 + second
    }
}
