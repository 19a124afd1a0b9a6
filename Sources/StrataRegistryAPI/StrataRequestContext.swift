import Hummingbird
import NIOCore

/// The request context of the registry port: Hummingbird's basics plus the client's
/// address, for the ledger, and
/// its connection.
public struct StrataRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// The connection, for handing files to its ``FileRegionHandler``.
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
        self.channel = source.channel
    }
}
