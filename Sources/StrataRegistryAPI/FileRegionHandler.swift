#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import NIOCore
import NIOHTTP1
import StrataCore

/// Sends raw cached blobs with sendfile(2): it sits between NIO's HTTP/1 encoder and
/// Hummingbird's codec, where a body part may be a `FileRegion`, and swaps a response
/// head's ``FileRegionMarker`` for the file's bytes. Every other part passes untouched.
///
/// The file is opened here, on the event loop, as a static file server does: one `open`
/// and one `fstat`. Stored blobs are immutable and replaced only by rename, so an open
/// descriptor always reads the bytes that were verified. If the blob went away between
/// the responder's lookup and now (evicted, quarantined), the head is not yet sent, and
/// the client gets a 503 it can retry rather than a cut-off body.
final class FileRegionHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .head(var head) = unwrapOutboundIn(data),
              let value = head.headers.first(name: FileRegionMarker.headerName) else {
            context.write(data, promise: promise)
            return
        }
        head.headers.remove(name: FileRegionMarker.headerName)
        guard let marker = FileRegionMarker(headerValue: value), let handle = Self.open(marker) else {
            Self.writeUnavailable(head, context: context, promise: promise)
            return
        }
        context.write(wrapOutboundOut(.head(head)), promise: promise)
        let region = FileRegion(fileHandle: handle, readerIndex: Int(marker.offset), endIndex: Int(marker.offset + marker.length))
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenComplete { _ in try? handle.close() }
        context.write(wrapOutboundOut(.body(.fileRegion(region))), promise: written)
    }

    /// The file, if it is there and holds the whole region.
    private static func open(_ marker: FileRegionMarker) -> NIOFileHandle? {
        guard let handle = try? NIOFileHandle(_deprecatedPath: marker.path) else { return nil }
        let size = try? handle.withUnsafeFileDescriptor { fd -> Int64 in
            var info = stat()
            guard fstat(fd, &info) == 0 else { return -1 }
            return Int64(info.st_size)
        }
        guard let size, size >= marker.offset + marker.length else {
            try? handle.close()
            return nil
        }
        return handle
    }

    private static func writeUnavailable(_ head: HTTPResponseHead, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        let error = RegistryError(.unavailable, "the cached blob went away while being served; retry")
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
