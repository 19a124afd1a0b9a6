import AsyncHTTPClient
import NIOPosix

/// The HTTP client unit tests give the registry client: no redirects followed (the
/// registry client follows them itself), no decompression, a refused connection fails
/// at once. Shared by the whole test process and never shut down.
public enum TestHTTPClient {
    public static let shared: HTTPClient = {
        var config = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(2), read: .seconds(10)))
        config.decompression = .disabled
        config.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: config)
    }()
}
