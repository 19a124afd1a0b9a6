import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A ``BlobStream`` whose bytes come from async code (a cache, memory) rather than a
/// socket: `produce` hands each part to `emit`, which calls the sink on the stream's
/// event loop and waits for the room it asks for.
public final class PushedBlobStream: BlobStream {
    public typealias Producer = @Sendable (_ emit: (ByteBuffer) async throws -> Void) async throws -> Void

    public let eventLoop: any EventLoop
    private let produce: Producer
    private let cancelled = NIOLockedValueBox(false)

    public init(on eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next(), _ produce: @escaping Producer) {
        self.eventLoop = eventLoop
        self.produce = produce
    }

    public func stream(into sink: @escaping @Sendable (ByteBuffer) throws -> EventLoopFuture<Void>?) async throws {
        let eventLoop = eventLoop
        try await produce { part in
            guard !self.cancelled.withLockedValue({ $0 }) else { throw UpstreamError(.transport, "body cancelled") }
            let room = try await eventLoop.submit { try sink(part) }.get()
            try await room?.get()
        }
    }

    public func cancel() {
        cancelled.withLockedValue { $0 = true }
    }
}
