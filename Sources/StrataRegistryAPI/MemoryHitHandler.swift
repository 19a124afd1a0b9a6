import Foundation
import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Answers cache hits held in memory (manifests by digest and by fresh tag, most of a
/// pull's requests, and large raw blobs, sent with sendfile by the ``FileRegionHandler``)
/// on the connection's event loop, below Hummingbird's router: no task, no hop between
/// threads. Every other request passes on to the routes unchanged.
///
/// It sits after the ``ConnectionGuard`` (which sees every request and response, so its
/// timers hold) and keeps a connection's answers in order: while a request it passed on
/// has not been answered in full, the requests behind it (pipelined) pass on too.
final class MemoryHitHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let responder: RegistryResponder
    /// Requests passed on whose response has not ended yet.
    private var passedOn = 0
    /// The request being read: answered here once its end arrives, or passed on.
    private var current: Current = .none
    private var clientAddress: String?
    /// The connection's file sender, for blob hits; nil when it has none (TLS). It sits
    /// before this handler, so it is there when this one is added.
    private var fileRegions: FileRegionHandler?

    private enum Current {
        case none
        case passedOn
        case answering(RegistryResponder.MemoryAnswer, started: ContinuousClock.Instant)
    }

    init(responder: RegistryResponder) {
        self.responder = responder
    }

    func handlerAdded(context: ChannelHandlerContext) {
        fileRegions = try? context.pipeline.syncOperations.handler(type: FileRegionHandler.self)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            let started = ContinuousClock.now
            if passedOn == 0, let answer = responder.answerFromMemory(request, client: client(context), time: Date(), files: fileRegions != nil) {
                current = .answering(answer, started: started)
                return
            }
            passedOn += 1
            current = .passedOn
            context.fireChannelRead(data)
        case .body:
            // A body on a request answered here is read and dropped, as the routes do.
            if case .answering = current { return }
            context.fireChannelRead(data)
        case .end:
            guard case .answering(let answer, let started) = current else {
                current = .none
                context.fireChannelRead(data)
                return
            }
            current = .none
            send(answer, started: started, context: context)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { passedOn -= 1 }
        context.write(data, promise: promise)
    }

    private func send(_ answer: RegistryResponder.MemoryAnswer, started: ContinuousClock.Instant, context: ChannelHandlerContext) {
        var head = answer.head
        if let file = answer.file {
            // Checked at the head: this connection has a file sender.
            let registration = fileRegions!.add(NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: file.descriptor),
                                                 use: .region(offset: file.offset, length: file.length), on: context.eventLoop)
            head.headerFields[RegistryResponder.fileRegionHeader] = String(registration.token)
        }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if let body = answer.body { context.write(wrapOutboundOut(.body(body)), promise: nil) }
        let written = context.eventLoop.makePromise(of: Void.self)
        let responder = self.responder
        written.futureResult.whenComplete { result in
            let success = if case .success = result { true } else { false }
            responder.finishMemoryAnswer(answer, seconds: (ContinuousClock.now - started).inSeconds, written: success)
        }
        // Written past this handler, so that it is not counted as a passed-on request's end.
        context.write(wrapOutboundOut(.end(nil)), promise: written)
        context.flush()
    }

    /// The client's address, for the ledger: looked up once per connection.
    private func client(_ context: ChannelHandlerContext) -> String {
        if let clientAddress { return clientAddress }
        let address = context.remoteAddress.map { $0.ipAddress ?? "\($0)" } ?? ""
        clientAddress = address
        return address
    }
}

extension RegistryResponder {
    /// A connection's ``MemoryHitHandler`` over these routes, for Hummingbird's
    /// `additionalChannelHandlers` (after the ``ConnectionGuard``).
    public func memoryHitHandler() -> any RemovableChannelHandler {
        MemoryHitHandler(responder: self)
    }
}
