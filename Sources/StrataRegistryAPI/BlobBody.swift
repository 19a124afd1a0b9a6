import Foundation
import Hummingbird
import Logging
import NIOCore
import StrataCore
import StrataMirror

/// How a blob's bytes go into a response: from the store or from a fill in progress,
/// with sendfile (a connection with a ``FileRegionHandler``) or through buffers.
struct BlobBody {
    let digest: Digest
    /// Bytes `from..<to` of the blob; `to` nil: to the end, once the fill knows it.
    let from: Int64
    let to: Int64?
    let contentLength: Int?
    let exchange: Exchange
    let inUse: InUseTracker
    let logger: Logger

    /// The body for `result`, and the token for the marker header when the bytes go out
    /// with sendfile. `channel` nil: buffers only (TLS).
    func make(_ result: BlobResult, sendfileOn channel: (any Channel)?) async -> (ResponseBody, token: UInt64?) {
        switch result {
        case .stored(let blob):
            let to = self.to ?? blob.size
            if let channel, let fd = blob.duplicateRawDescriptor(),
               let registration = await Self.register(fd, use: .region(offset: from, length: to - from), on: channel) {
                return (storedFile(length: to - from, sent: registration.sent), registration.token)
            }
            return (stored(blob, to: to), nil)
        case .filling(let fill, _, let lease):
            if let channel, let fd = fill.duplicateTempFileDescriptor(), let registration = await Self.register(fd, use: .follow, on: channel) {
                return (fillFile(fill, lease: lease, sent: registration.sent), registration.token)
            }
            return (filling(fill, lease: lease), nil)
        case .upstreamHead:
            return (ResponseBody(), nil)
        }
    }

    /// A stored raw blob: the handler sends it as soon as the head is written; the body
    /// only waits for that, so the ledger records the request when the file has gone.
    private func storedFile(length: Int64, sent: EventLoopFuture<Void>) -> ResponseBody {
        let exchange = exchange
        return ResponseBody(contentLength: contentLength) { writer in
            try await writer.finish(nil)
            try await sent.get()
            exchange.update { $0.fileRegionBytes = length }
        }
    }

    private func stored(_ blob: CachedBlob, to: Int64) -> ResponseBody {
        let inUse = inUse, digest = digest, from = from
        return ResponseBody(contentLength: contentLength) { writer in
            inUse.begin(digest)
            defer { inUse.end(digest) }
            try await blob.readPieces(from, to) { try await writer.write(contentsOf: $0) }
            try await writer.finish(nil)
        }
    }

    /// A fill in progress: the body names the temp file's regions as they become
    /// readable, and the handler sends them.
    private func fillFile(_ fill: BlobFill, lease: BlobFill.Lease, sent: EventLoopFuture<Void>) -> ResponseBody {
        let exchange = exchange, from = from, to = to, logger = logger, digest = digest
        return ResponseBody(contentLength: contentLength) { writer in
            try await Self.cuttingOff(logger, digest) {
                try await fill.follow(from: from, to: to, lease: lease) { piece in
                    switch piece {
                    case .file(let lower, let upper):
                        exchange.update { $0.fileRegionBytes += upper - lower }
                        try await writer.write(FileRegionInstruction.region(offset: lower, length: upper - lower).encoded())
                    case .memory(let bytes):
                        exchange.update { $0.fileRegionBytes += Int64(bytes.readableBytes) }
                        try await writer.write(FileRegionInstruction.bytes(bytes).encoded())
                    }
                }
            }
            try await writer.finish(nil)
            try await sent.get()
        }
    }

    private func filling(_ fill: BlobFill, lease: BlobFill.Lease) -> ResponseBody {
        let from = from, to = to, logger = logger, digest = digest
        return ResponseBody(contentLength: contentLength) { writer in
            try await Self.cuttingOff(logger, digest) {
                try await fill.read(from: from, to: to, lease: lease) { try await writer.write($0) }
            }
            try await writer.finish(nil)
        }
    }

    /// Runs a fill's part of a body. When the fill fails the error goes on, so the client
    /// is cut off: finishing would pass off a partial or bad body as whole.
    private static func cuttingOff(_ logger: Logger, _ digest: Digest, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            logger.warning("blob response aborted", metadata: ["digest": "\(digest)", "error": "\(error)"])
            throw error
        }
    }

    /// Hands `fd` (owned from here on) to the connection's ``FileRegionHandler``; nil
    /// (and the descriptor closed) to send the bytes through buffers instead.
    private static func register(_ fd: Int32, use: FileRegionHandler.Use, on channel: any Channel) async -> FileRegionHandler.Registration? {
        await FileRegionHandler.register(NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: fd), use: use, on: channel)
    }
}
