import StrataCore

/// The manifest types a client accepts, from its `Accept` headers.
public struct ManifestAccept: Sendable, Hashable {
    /// The media types named, without parameters, in order. Empty means anything.
    public let types: [String]

    public init(headers: [String]) {
        var types: [String] = []
        for header in headers {
            for part in header.split(separator: ",") {
                let base = part.split(separator: ";", maxSplits: 1).first.map { String($0).trimmingCharacters(in: .whitespaces) } ?? ""
                if !base.isEmpty && !types.contains(base) { types.append(base) }
            }
        }
        self.types = types
    }

    public func accepts(_ mediaType: String) -> Bool {
        types.isEmpty || types.contains(mediaType) || types.contains("*/*")
    }

    /// Whether the client would take a multi-platform index: then the tag's view is complete.
    public var acceptsIndex: Bool {
        types.isEmpty || types.contains("*/*") || types.contains(MediaType.ociIndex.value) || types.contains(MediaType.dockerManifestList.value)
    }

    /// What to send upstream: the client's own types, or every manifest type.
    public var upstreamHeaders: [String] {
        types.isEmpty ? MediaType.allManifestTypes.map(\.value) : types
    }
}

import Foundation
