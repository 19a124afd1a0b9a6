/// The manifest types a client accepts, from its `Accept` headers.
public struct ManifestAccept: Sendable, Hashable {
    /// The media types named, without parameters, in order. Empty means anything.
    public let types: [String]

    public init(headers: [String]) {
        var types: [String] = []
        for header in headers {
            for part in header.split(separator: ",") {
                // Trimmed by hand: Foundation's CharacterSet trimming costs more than the rest of a cache hit.
                var base = part.split(separator: ";", maxSplits: 1).first ?? ""
                while base.first == " " || base.first == "\t" { base = base.dropFirst() }
                while base.last == " " || base.last == "\t" { base = base.dropLast() }
                if !base.isEmpty && !types.contains(where: { $0 == base }) { types.append(String(base)) }
            }
        }
        self.types = types
    }

    public func accepts(_ mediaType: String) -> Bool {
        types.isEmpty || types.contains(mediaType) || types.contains("*/*")
    }
}
