#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import NIOCore
import NIOHTTP1
import StrataCore

/// Sends blob bytes with sendfile(2). It sits between NIO's HTTP/1 encoder and
/// Hummingbird's codec, where a body part may be a `FileRegion`, and turns a response
/// whose head carries a ``FileRegionMarker`` into file regions of the file registered
/// under that marker's token. Every other response passes untouched.
///
/// Files are registered per connection (``register(_:use:on:)``) and owned by the
/// handler from then on: closed once their response has been written, or when the
/// connection goes away, whichever comes first.
final class FileRegionHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// What a registered file is sent for.
    enum Use: Sendable, Equatable {
        /// These bytes, sent as soon as the head is (a stored blob).
        case region(offset: Int64, length: Int64)
        /// Regions the body names as they become readable (a fill in progress).
        case follow
    }

    private struct Source {
        let file: NIOFileHandle
        let use: Use
        /// Completed once the response's last byte has been written, or failed.
        let sent: EventLoopPromise<Void>
    }

    /// A file handed to the handler: the token for the marker, and when its response
    /// has been sent (for the ledger's time and outcome).
    struct Registration: Sendable {
        let token: UInt64
        let sent: EventLoopFuture<Void>
    }

    /// Most bytes one sendfile call is asked for (nginx's sendfile_max_chunk).
    static let sendfileChunk: Int64 = 2 << 20

    private var pending: [UInt64: Source] = [:]
    private var lastToken: UInt64 = 0
    /// The response being written from a file.
    private var current: Source?
    /// The response being written lost its file: its head became a 503, its body parts
    /// are dropped.
    private var discarding = false

    /// Hands `file` to the handler of `channel`; returns the token for the marker, or nil
    /// (and closes the file) when the connection has no handler or has gone.
    static func register(_ file: NIOFileHandle, use: Use, on channel: any Channel) async -> Registration? {
        let registration = try? await channel.eventLoop.submit { () throws -> Registration in
            try channel.pipeline.syncOperations.handler(type: FileRegionHandler.self).add(file, use: use, on: channel.eventLoop)
        }.get()
        if registration == nil { try? file.close() }
        return registration
    }

    /// Takes `file` for a response to come; on the event loop.
    func add(_ file: NIOFileHandle, use: Use, on eventLoop: any EventLoop) -> Registration {
        lastToken += 1
        let sent = eventLoop.makePromise(of: Void.self)
        pending[lastToken] = Source(file: file, use: use, sent: sent)
        return Registration(token: lastToken, sent: sent.futureResult)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head) where head.headers.contains(name: FileRegionMarker.headerName):
            writeMarkedHead(head, context: context, promise: promise)
        case .body(.byteBuffer(let buffer)) where current != nil:
            writeInstruction(buffer, context: context, promise: promise)
        case .body where discarding:
            promise?.succeed()
        case .end where discarding:
            discarding = false
            context.write(data, promise: promise)
        case .end(let trailers) where current != nil:
            let source = current!
            current = nil
            let written = context.eventLoop.makePromise(of: Void.self)
            let channel = context.channel
            written.futureResult.whenComplete { result in
                try? source.file.close()
                Self.cork(channel, false)
                promise?.completeWith(result)
                source.sent.completeWith(result)
            }
            context.write(wrapOutboundOut(.end(trailers)), promise: written)
        default:
            context.write(data, promise: promise)
        }
    }

    /// A head with the marker: the file registered under its token is this response's
    /// body, sent at once (a stored blob) or as the body names its regions (a fill).
    private func writeMarkedHead(_ marked: HTTPResponseHead, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        var head = marked
        let value = head.headers.first(name: FileRegionMarker.headerName) ?? ""
        head.headers.remove(name: FileRegionMarker.headerName)
        guard let source = UInt64(value).flatMap({ pending.removeValue(forKey: $0) }) else {
            discarding = true
            Self.writeUnavailable(head, "no file registered for this response", context: context, promise: promise)
            return
        }
        guard case .region(let offset, let length) = source.use else {
            // A followed fill: its regions come with the body, as the upstream delivers
            // them, so the connection is not corked.
            current = source
            context.write(wrapOutboundOut(.head(head)), promise: promise)
            return
        }
        guard Self.holds(source.file, offset + length) else {
            try? source.file.close()
            source.sent.fail(ChannelError.inappropriateOperationForState)
            discarding = true
            Self.writeUnavailable(head, "the cached blob is shorter than its size; it fails verification", context: context, promise: promise)
            return
        }
        // A stored blob goes out in full segments only (nginx's tcp_nopush); the end of
        // the response uncorks and sends what is left.
        current = source
        Self.cork(context.channel, true)
        context.write(wrapOutboundOut(.head(head)), promise: promise)
        var at = offset
        while at < offset + length {
            let end = min(offset + length, at + Self.sendfileChunk)
            let region = FileRegion(fileHandle: source.file, readerIndex: Int(at), endIndex: Int(end))
            context.write(wrapOutboundOut(.body(.fileRegion(region))), promise: nil)
            at = end
        }
    }

    /// A body part of a followed fill: a region of its file, or bytes passed through memory.
    private func writeInstruction(_ buffer: ByteBuffer, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        switch FileRegionInstruction(decoding: buffer) {
        case .region(let offset, let length):
            let region = FileRegion(fileHandle: current!.file, readerIndex: Int(offset), endIndex: Int(offset + length))
            context.write(wrapOutboundOut(.body(.fileRegion(region))), promise: promise)
        case .bytes(let bytes):
            context.write(wrapOutboundOut(.body(.byteBuffer(bytes))), promise: promise)
        case nil:
            promise?.fail(ChannelError.inappropriateOperationForState)
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        for source in pending.values + (current.map { [$0] } ?? []) {
            try? source.file.close()
            source.sent.fail(ChannelError.ioOnClosedChannel)
        }
        pending = [:]
        current = nil
    }

    /// TCP_CORK on or off; on the event loop.
    private static func cork(_ channel: any Channel, _ on: Bool) {
        try? channel.syncOptions?.setOption(.tcpOption(.init(rawValue: TCP_CORK)), value: on ? 1 : 0)
    }

    /// Whether the file has at least `size` bytes.
    private static func holds(_ file: NIOFileHandle, _ size: Int64) -> Bool {
        let actual = try? file.withUnsafeFileDescriptor { fd -> Int64 in
            var info = stat()
            return fstat(fd, &info) == 0 ? Int64(info.st_size) : -1
        }
        return (actual ?? -1) >= size
    }

    private static func writeUnavailable(_ head: HTTPResponseHead, _ message: String, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        let error = RegistryError(.unavailable, message)
        let body = context.channel.allocator.buffer(string: error.jsonBody)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        for name in ["X-Strata-Tier", "Docker-Distribution-Api-Version"] {
            if let value = head.headers.first(name: name) { headers.add(name: name, value: value) }
        }
        let unavailable = HTTPResponseHead(version: head.version, status: .serviceUnavailable, headers: headers)
        context.write(NIOAny(HTTPServerResponsePart.head(unavailable)), promise: promise)
        context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(body))), promise: nil)
    }
}
