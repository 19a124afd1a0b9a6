import AsyncHTTPClient
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// An upstream answer whose body is handed, part by part, to a sink on the event loop
/// that received it.
///
/// AsyncHTTPClient's async body sequence hands over one part at a time and waits for
/// the consumer to ask for the next: two thread hops per 64 KiB part, the largest share
/// of a cold fill's time in a profile (task switches, futex and eventfd wake-ups). Here the fill's work (write, hash, wake readers) runs
/// where the bytes arrive, and the sink's future is the backpressure.
public final class StreamedReply: UpstreamReply, Sendable {
    /// Takes one body part, on the event loop. A future delays the next part until it
    /// completes; `nil` asks for the next part at once. A throw ends the request.
    public typealias Sink = @Sendable (ByteBuffer) throws -> EventLoopFuture<Void>?

    public let status: HTTPResponseStatus
    public let headers: HTTPHeaders
    /// Where the sink runs.
    public var eventLoop: any EventLoop { task.eventLoop }
    private let delegate: Delegate
    private let task: HTTPClient.Task<Void>

    fileprivate init(head: HTTPResponseHead, delegate: Delegate, task: HTTPClient.Task<Void>) {
        self.status = head.status
        self.headers = head.headers
        self.delegate = delegate
        self.task = task
    }

    /// An answer dropped unread must not hold its connection.
    deinit { cancel() }

    /// Sends `request` and returns once the response head is in; the body waits for
    /// ``stream(into:)`` or ``drain()``.
    static func execute(_ request: HTTPClient.Request, on http: HTTPClient, deadline: NIODeadline) async throws -> StreamedReply {
        let eventLoop = http.eventLoopGroup.next()
        let delegate = Delegate(eventLoop: eventLoop)
        let task = http.execute(request: request, delegate: delegate, eventLoop: .delegateAndChannel(on: eventLoop), deadline: deadline)
        // However the request ends, no promise is left open: a failure before the head
        // fails the head, and a body nobody asked for is let go.
        task.futureResult.whenComplete { result in
            if case .failure(let error) = result { delegate.failHead(error) }
            delegate.start(.drain)
        }
        let head = try await delegate.head.futureResult.get()
        return StreamedReply(head: head, delegate: delegate, task: task)
    }

    /// Feeds the body to `sink` in order, and returns when it has ended.
    public func stream(into sink: @escaping Sink) async throws {
        delegate.start(.sink(sink))
        try await withTaskCancellationHandler {
            try await task.futureResult.get()
        } onCancel: {
            task.cancel()
        }
    }

    /// Reads and drops the body (an error answer, a redirect).
    public func drain() async {
        delegate.start(.drain)
        _ = try? await task.futureResult.get()
    }

    /// Stops the request; the body is not wanted.
    public func cancel() {
        delegate.start(.drain)
        task.cancel()
    }

    fileprivate final class Delegate: HTTPClientResponseDelegate, Sendable {
        typealias Response = Void
        enum Mode { case waiting, sink(Sink), drain }

        let head: EventLoopPromise<HTTPResponseHead>
        /// Completed once the body has somewhere to go.
        private let proceed: EventLoopPromise<Void>
        private let mode = NIOLockedValueBox(Mode.waiting)
        private let headDone = NIOLockedValueBox(false)
        private let next: EventLoopFuture<Void>

        init(eventLoop: any EventLoop) {
            head = eventLoop.makePromise()
            proceed = eventLoop.makePromise()
            next = eventLoop.makeSucceededVoidFuture()
        }

        func start(_ newMode: Mode) {
            let first = mode.withLockedValue { current -> Bool in
                if case .waiting = current { current = newMode; return true }
                if case .drain = newMode { current = .drain }
                return false
            }
            if first { proceed.succeed() }
        }

        func failHead(_ error: any Error) {
            guard headDone.withLockedValue({ done in defer { done = true }; return !done }) else { return }
            head.fail(error)
        }

        func didReceiveHead(task: HTTPClient.Task<Void>, _ response: HTTPResponseHead) -> EventLoopFuture<Void> {
            if headDone.withLockedValue({ done in defer { done = true }; return !done }) {
                head.succeed(response)
            }
            return proceed.futureResult
        }

        func didReceiveBodyPart(task: HTTPClient.Task<Void>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
            guard case .sink(let sink) = mode.withLockedValue({ $0 }) else { return next }
            do {
                return try sink(buffer) ?? next
            } catch {
                return task.eventLoop.makeFailedFuture(error)
            }
        }

        func didReceiveError(task: HTTPClient.Task<Void>, _ error: any Error) {
            failHead(error)
        }

        func didFinishRequest(task: HTTPClient.Task<Void>) throws {}
    }
}

/// What the request path needs of an answer, buffered or streamed.
public protocol UpstreamReply: Sendable {
    var status: HTTPResponseStatus { get }
    var headers: HTTPHeaders { get }
    func drain() async
}

extension HTTPClientResponse: UpstreamReply {
    public func drain() async {
        _ = try? await body.collect(upTo: 1 << 20)
    }
}
