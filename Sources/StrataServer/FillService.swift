import ServiceLifecycle
import StrataMirror

/// The engine's background work (blob fills) as a service: at graceful shutdown it takes
/// no new fills and returns once the running ones end; the service group cancels them
/// if they outlast its shutdown bound. Listed first, it is shut down last, after the
/// registry port stopped taking requests.
struct FillService: Service {
    let work: BackgroundWork

    func run() async throws {
        let work = self.work
        await withGracefulShutdownHandler {
            await work.run()
        } onGracefulShutdown: {
            work.finish()
        }
    }
}
