/// The Strata instances a request passed through, from its `Via` header
/// (`1.1 strata-edge1, 1.1 strata-central`): hostile text from the network, read with bounds.
public enum ViaHeader {
    /// The `strata-<id>` hops, in order: at most 8, each at most 64 characters of
    /// `[A-Za-z0-9._-]`; the first 4,096 characters of the value are read.
    public static func stratas(_ via: String) -> [String] {
        var hops: [String] = []
        for part in via.prefix(4096).split(separator: ",") {
            for word in part.split(separator: " ") where word.hasPrefix("strata-") && word.count <= 64 {
                guard word.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) else { continue }
                hops.append(String(word))
                if hops.count == 8 { return hops }
            }
        }
        return hops
    }

    /// Whether the value names `strata-<id>` as a hop (the request looped back).
    public static func names(_ via: String, instanceID id: String) -> Bool {
        via.split(separator: ",").contains { hop in
            hop.split(separator: " ").contains { $0 == "strata-\(id)" }
        }
    }
}
