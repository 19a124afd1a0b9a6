import AsyncHTTPClient
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import StrataCore

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
    private let minimumRate: MinimumRate?

    /// The slowest body worth waiting for: fewer than `bytesPerSecond` × `window`
    /// bytes in any `window` ends the request (a drip must not hold a fill for hours).
    public struct MinimumRate: Sendable {
        public let bytesPerSecond: Int64
        public let window: TimeAmount
        public init(bytesPerSecond: Int64, window: TimeAmount) {
            self.bytesPerSecond = bytesPerSecond
            self.window = window
        }
        /// Bytes one window must bring, without overflow.
        var bytesPerWindow: Int64 {
            let (product, overflow) = bytesPerSecond.multipliedReportingOverflow(by: max(1, window.nanoseconds / 1_000_000))
            return overflow ? .max : product / 1000
        }
    }

    fileprivate init(head: HTTPResponseHead, delegate: Delegate, task: HTTPClient.Task<Void>, minimumRate: MinimumRate?) {
        self.status = head.status
        self.headers = head.headers
        self.delegate = delegate
        self.task = task
        self.minimumRate = minimumRate
    }

    /// An answer dropped unread must not hold its connection.
    deinit { cancel() }

    /// Sends `request` and returns once the response head is in; the body waits for
    /// ``stream(into:)`` or ``drain()``.
    public static func execute(_ request: HTTPClient.Request, on http: HTTPClient, deadline: NIODeadline,
                        minimumRate: MinimumRate? = nil) async throws -> StreamedReply {
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
        return StreamedReply(head: head, delegate: delegate, task: task, minimumRate: minimumRate)
    }

    /// Feeds the body to `sink` in order, and returns when it has ended.
    /// Throws ``UpstreamError`` (`transport`) when the body is slower than the minimum rate.
    public func stream(into sink: @escaping Sink) async throws {
        let watchdog = minimumRate.map(startWatchdog)
        defer { watchdog?.cancel() }
        delegate.start(.sink(sink))
        do {
            try await withTaskCancellationHandler {
                try await task.futureResult.get()
            } onCancel: {
                task.cancel()
            }
        } catch {
            if let rate = minimumRate, delegate.tooSlow.withLockedValue({ $0 }) {
                throw UpstreamError(.tooSlow, "slower than \(rate.bytesPerSecond) bytes/s over \(rate.window.nanoseconds / 1_000_000_000) s; abandoned")
            }
            throw error
        }
    }

    /// Checks once per window that the body brought enough bytes; cancels it if not.
    private func startWatchdog(_ rate: MinimumRate) -> RepeatedTask {
        let delegate = delegate, task = task, needed = rate.bytesPerWindow
        return task.eventLoop.scheduleRepeatedTask(initialDelay: rate.window, delay: rate.window) { repeated in
            let received = delegate.received.withLockedValue { count in defer { count = 0 }; return count }
            guard received < needed else { return }
            delegate.tooSlow.withLockedValue { $0 = true }
            repeated.cancel()
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
        /// Body bytes since the watchdog last looked, and whether it gave up.
        let received = NIOLockedValueBox<Int64>(0)
        let tooSlow = NIOLockedValueBox(false)
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
            received.withLockedValue { $0 += Int64(buffer.readableBytes) }
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
