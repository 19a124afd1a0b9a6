import AsyncHTTPClient
import ServiceLifecycle

/// The upstream HTTP clients as a service: they live as long as the service group and
/// are shut down when it stops. Listed before the fill service, they are shut down
/// after the fills that use them have ended.
struct HTTPClientService: Service {
    let clients: [HTTPClient]

    func run() async throws {
        try? await gracefulShutdown()
        await Self.shutdown(clients)
    }

    /// Shuts the clients down (also when the group never ran: a start-up check failed).
    static func shutdown(_ clients: [HTTPClient]) async {
        for client in clients { try? await client.shutdown() }
    }
}
