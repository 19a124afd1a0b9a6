/// Where a response came from, as the ledger and the `X-Strata-Tier` header say it.
public enum TierName: Hashable, Sendable, CustomStringConvertible {
    case cache
    case mirror(String)
    case canonical
    case stale
    case none

    public var description: String {
        switch self {
        case .cache: "cache"
        case .mirror(let name): "mirror/\(name)"
        case .canonical: "canonical"
        case .stale: "stale"
        case .none: "none"
        }
    }

    public init(parsing s: String) {
        switch s {
        case "cache": self = .cache
        case "canonical": self = .canonical
        case "stale": self = .stale
        case "none": self = .none
        default:
            self = s.hasPrefix("mirror/") ? .mirror(String(s.dropFirst(7))) : .none
        }
    }
}
