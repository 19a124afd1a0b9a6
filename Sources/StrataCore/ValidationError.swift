/// Input that does not match the OCI distribution grammar.
///
/// The registry port maps it to `NAME_INVALID`, `TAG_INVALID`, `DIGEST_INVALID` or
/// `MANIFEST_INVALID`; the command line prints ``description``.
public struct ValidationError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case name, tag, digest, mediaType
    }

    private let code: Code
    /// The rejected input, truncated for display.
    public let input: String

    private init(_ code: Code, _ input: String) {
        self.code = code
        self.input = String(input.prefix(300))
    }

    public static func nameInvalid(_ input: String) -> Self { .init(.name, input) }
    public static func tagInvalid(_ input: String) -> Self { .init(.tag, input) }
    public static func digestInvalid(_ input: String) -> Self { .init(.digest, input) }
    public static func mediaTypeInvalid(_ input: String) -> Self { .init(.mediaType, input) }

    /// The registry error code this maps to.
    public var registryCode: RegistryErrorCode {
        switch code {
        case .name: .nameInvalid
        case .tag: .tagInvalid
        case .digest: .digestInvalid
        case .mediaType: .manifestInvalid
        }
    }

    public var description: String {
        let shown = input.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7f ? String($0) : "\\u{\(String($0.value, radix: 16))}" }.joined()
        switch code {
        case .name: return "invalid repository name \"\(shown)\""
        case .tag: return "invalid tag \"\(shown)\""
        case .digest: return "invalid digest \"\(shown)\""
        case .mediaType: return "invalid media type \"\(shown)\""
        }
    }
}
