import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Hummingbird's plain-text HTTP/1 child channel with two additions: a
/// ``FileRegionHandler`` below Hummingbird's codec, where bodies may be file regions,
/// so raw cache hits go out with sendfile(2), and a ``MemoryHitHandler`` after the
/// ``ConnectionGuard``, so manifest hits are answered on the event loop. TLS connections
/// use Hummingbird's own channel with the guard and the memory hits: file regions cannot
/// pass through TLS.
public struct ZeroCopyHTTP1Channel: ServerChildChannel, HTTPChannelHandler {
    public typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

    public let responder: HTTPChannelHandler.Responder
    let limits: ConnectionLimits
    let counter: ConnectionCounter
    let memoryHits: RegistryResponder?

    public init(responder: @escaping HTTPChannelHandler.Responder, limits: ConnectionLimits, counter: ConnectionCounter,
                memoryHits: RegistryResponder? = nil) {
        self.responder = responder
        self.limits = limits
        self.counter = counter
        self.memoryHits = memoryHits
    }

    /// The server builder to hand to `Application(server:)`; with `memoryHits`, the hits
    /// it holds in memory are answered on the event loop.
    public static func builder(limits: ConnectionLimits, counter: ConnectionCounter, memoryHits: RegistryResponder? = nil) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in ZeroCopyHTTP1Channel(responder: responder, limits: limits, counter: counter, memoryHits: memoryHits) }
    }

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            // Hummingbird's defaults for the decoder limits.
            var decoderLimits = NIOHTTPDecoderLimitConfiguration()
            decoderLimits.maxHeaderFieldSize = 80 * 1024
            decoderLimits.maxHeaderListSize = 80 * 1024
            decoderLimits.maxHeaderFieldCount = 1000
            let pipeline = channel.pipeline.syncOperations
            try pipeline.configureHTTPServerPipeline(
                withPipeliningAssistance: false, withErrorHandling: false, withOutboundHeaderValidation: false,
                withEncoderConfiguration: .init(), withDecoderLimitConfiguration: decoderLimits)
            try pipeline.addHandler(FileRegionHandler())
            try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: false))
            try pipeline.addHandler(ConnectionGuard(limits: limits, counter: counter))
            if let memoryHits { try pipeline.addHandler(MemoryHitHandler(responder: memoryHits)) }
            try pipeline.addHandler(HTTPConnectionStateHandler(logger: logger))
            return try NIOAsyncChannel(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
        }
    }

    public func handle(value asyncChannel: Value, logger: Logger) async {
        await handleHTTP(asyncChannel: asyncChannel, logger: logger)
    }
}
