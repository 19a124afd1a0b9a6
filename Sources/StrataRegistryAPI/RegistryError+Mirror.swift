import StrataCore
import StrataMirror

extension RegistryError {
    /// The spec's code and status for an engine error: the only place where the engine's
    /// reasons become HTTP.
    init(_ error: MirrorError) {
        let code: RegistryErrorCode
        switch error {
        case .manifestNotFound, .referrersNotSupported: code = .manifestUnknown
        case .blobNotFound: code = .blobUnknown
        case .registryNotConfigured, .repositoryNotFound: code = .nameUnknown
        case .refused: code = .denied
        default: code = .unavailable
        }
        self.init(code, error.message)
    }
}
