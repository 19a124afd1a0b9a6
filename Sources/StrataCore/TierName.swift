/// Where a response came from, as the ledger and the `X-Strata-Tier` header say it.
public enum TierName: Hashable, Sendable, CustomStringConvertible {
    /// This replica's own cache on disk.
    case local
    /// The object store the replicas of a central mirror share.
    case shared
    case mirror(String)
    case canonical
    case stale
    case none

    public var description: String {
        switch self {
        case .local: "local"
        case .shared: "shared"
        case .mirror(let name): "mirror/\(name)"
        case .canonical: "canonical"
        case .stale: "stale"
        case .none: "none"
        }
    }
}
