import HTTPTypes
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import StrataCore

/// Limits for the registry port's client connections.
public struct ConnectionLimits: Sendable {
    /// The first request head must arrive this soon after the connection opens.
    public var headerTimeout: TimeAmount
    /// A connection with no request in flight is closed after this.
    public var idleTimeout: TimeAmount
    /// Open connections at most; more are closed as soon as they are accepted.
    public var maxConnections: Int

    public init(headerTimeout: TimeAmount = .seconds(10), idleTimeout: TimeAmount = .seconds(60), maxConnections: Int = 4096) {
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
    }
}

/// The open connections of one port, shared by all its channels.
public final class ConnectionCounter: Sendable {
    private struct State {
        var open = 0
        var refusedSinceLog = 0
        /// Callers of ``waitUntil(_:)``, resumed when their condition holds.
        var waiters: [(condition: @Sendable (Int) -> Bool, continuation: CheckedContinuation<Void, Never>)] = []

        mutating func takeSatisfied() -> [CheckedContinuation<Void, Never>] {
            var ready: [CheckedContinuation<Void, Never>] = []
            let count = open
            waiters.removeAll { waiter in
                guard waiter.condition(count) else { return false }
                ready.append(waiter.continuation)
                return true
            }
            return ready
        }
    }
    private let state = NIOLockedValueBox(State())
    let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    public var open: Int { state.withLockedValue { $0.open } }

    /// Returns once the number of open connections satisfies `condition` (for tests and
    /// tools that must not poll).
    public func waitUntil(_ condition: @escaping @Sendable (Int) -> Bool) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLockedValue { s -> Bool in
                if condition(s.open) { return true }
                s.waiters.append((condition, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Takes a place, or returns false when `limit` are open already. The first refusal
    /// is logged, and then one line per 1,000 more, so a flood cannot flood the log.
    func enter(limit: Int) -> Bool {
        let (admitted, logRefusal, ready) = state.withLockedValue { s -> (Bool, Int?, [CheckedContinuation<Void, Never>]) in
            guard s.open >= limit else { s.open += 1; return (true, nil, s.takeSatisfied()) }
            s.refusedSinceLog += 1
            return (false, s.refusedSinceLog % 1000 == 1 ? s.refusedSinceLog : nil, [])
        }
        ready.forEach { $0.resume() }
        if let count = logRefusal {
            logger.warning("connection limit reached: new connections are closed at once",
                           metadata: ["limit": "\(limit)", "refused": "\(count)"])
        }
        return admitted
    }

    func leave() {
        let ready = state.withLockedValue { s -> [CheckedContinuation<Void, Never>] in
            s.open -= 1
            if s.open == 0 { s.refusedSinceLog = 0 }
            return s.takeSatisfied()
        }
        ready.forEach { $0.resume() }
    }
}

/// Guards one client connection on the registry port: the connection cap, the header
/// and idle timeouts, and clear answers to what Hummingbird's responder never sees
/// (`CONNECT`, requests the HTTP parser rejects). Sits after the HTTP codec.
public final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPRequestPart
    public typealias InboundOut = HTTPRequestPart
    public typealias OutboundIn = HTTPResponsePart
    public typealias OutboundOut = HTTPResponsePart

    private let limits: ConnectionLimits
    private let counter: ConnectionCounter
    private var counted = false
    private var inFlight = 0
    private var timer: Scheduled<Void>?
    /// When the connection is closed unless a request head arrives; nil while one is in flight.
    private var deadline: NIODeadline?
    /// The request was answered here; what follows on this connection is dropped.
    private var answeredHere = false

    /// A guard for one new connection (Hummingbird's `additionalChannelHandlers`).
    public static func make(limits: ConnectionLimits, counter: ConnectionCounter) -> any RemovableChannelHandler {
        ConnectionGuard(limits: limits, counter: counter)
    }

    init(limits: ConnectionLimits, counter: ConnectionCounter) {
        self.limits = limits
        self.counter = counter
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { admit(context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        admit(context)
        context.fireChannelActive()
    }

    private func admit(_ context: ChannelHandlerContext) {
        guard !counted else { return }
        guard counter.enter(limit: limits.maxConnections) else {
            context.close(promise: nil)
            return
        }
        counted = true
        arm(context, limits.headerTimeout)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        release()
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        release()
    }

    private func release() {
        timer?.cancel()
        timer = nil
        if counted { counter.leave(); counted = false }
    }

    /// Closes the connection at `after` from now unless a request head arrives first.
    /// The timer is not moved on every request: it fires at the old deadline, finds the
    /// new one, and waits again.
    private func arm(_ context: ChannelHandlerContext, _ after: TimeAmount) {
        let at = NIODeadline.now() + after
        deadline = at
        if timer == nil { schedule(context, at: at) }
    }

    private func schedule(_ context: ChannelHandlerContext, at: NIODeadline) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: at) {
            let (handler, context) = loopBound.value
            handler.timer = nil
            // A request in flight: the end of its response arms again.
            guard let deadline = handler.deadline else { return }
            if deadline <= .now() {
                context.close(promise: nil)
            } else {
                handler.schedule(context, at: deadline)
            }
        }
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answeredHere else { return }
        let part = unwrapInboundIn(data)
        if case .head(let head) = part {
            deadline = nil
            inFlight += 1
            // After CONNECT the parser hands over raw bytes: answer and close here.
            if head.method == .connect {
                answer(context, status: .methodNotAllowed,
                       RegistryError(.unsupported, "this registry is a read-only mirror: CONNECT is not supported"))
                return
            }
        }
        context.fireChannelRead(data)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            inFlight -= 1
            if inFlight == 0, !answeredHere { arm(context, limits.idleTimeout) }
        }
        context.write(data, promise: promise)
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        guard !answeredHere else { return }
        if case .headerOverflow = parserError {
            answer(context, status: .requestHeaderFieldsTooLarge,
                   RegistryError(.unsupported, "request line or headers too large", status: 431))
        } else {
            answer(context, status: .badRequest, RegistryError(.unsupported, "malformed HTTP request", status: 400))
        }
    }

    /// Writes the spec's error body with `Connection: close`, then closes.
    private func answer(_ context: ChannelHandlerContext, status: HTTPResponse.Status, _ error: RegistryError) {
        answeredHere = true
        timer?.cancel()
        timer = nil
        let body = ByteBuffer(string: error.jsonBody)
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields[.contentLength] = String(body.readableBytes)
        fields[.connection] = "close"
        if error.code == .unsupported, status == .methodNotAllowed { fields[.allow] = "GET, HEAD" }
        context.write(wrapOutboundOut(.head(HTTPResponse(status: status, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in loopBound.value.close(promise: nil) }
    }
}
