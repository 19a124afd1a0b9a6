import Hummingbird
import NIOCore

/// The request context of the admin port: Hummingbird's basics plus the client's
/// address (sign-in attempts are throttled and logged per address).
public struct AdminRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }

    /// The client's address as text, for the throttle and the log.
    var clientAddress: String { remoteAddress?.ipAddress ?? "unknown" }
}
