import Foundation

/// A token realm's answer (`{"token": ..., "access_token": ..., "expires_in": ...}`),
/// checked: a token of sane length and characters, a lifetime clamped to what a cache
/// should keep.
public struct TokenAnswer: Sendable, Equatable {
    public let token: String
    /// Seconds the token may be used, within `10...86400` (60 when the realm did not say).
    public let expiresIn: Double

    /// Longest token accepted: real ones are a few KiB of JWT.
    public static let maxTokenLength = 64 << 10

    public init?(parsing bytes: [UInt8]) {
        struct Wire: Decodable {
            let token: String?
            let access_token: String?
            let expires_in: Double?
        }
        guard JSONDepth.isWithin(bytes, limit: 16), let wire = try? JSONDecoder().decode(Wire.self, from: Data(bytes)),
              let token = wire.token.flatMap({ $0.isEmpty ? nil : $0 }) ?? wire.access_token,
              !token.isEmpty, token.utf8.count <= Self.maxTokenLength,
              // It goes into an Authorization header: visible ASCII only, no CR/LF.
              token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { return nil }
        self.token = token
        let lifetime = wire.expires_in ?? 60
        self.expiresIn = lifetime.isFinite ? min(max(lifetime, 10), 86400) : 60
    }
}
