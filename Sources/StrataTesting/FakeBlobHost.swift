import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle
import StrataCore

/// A CDN in front of a registry's blobs, as the big registries redirect to: signed URLs
/// that refuse `HEAD`, single `Range` requests, connections that break part-way,
/// and a rate limit per connection. A real CDN can't be made to do these on demand.
///
/// Any path ending in `/blobs/<digest>` (any query) serves that blob.
public final class FakeBlobHost: @unchecked Sendable {
    public struct Behaviour: Sendable {
        /// `HEAD` answers 403, as signed blob URLs do.
        public var rejectHead = true
        /// Every `GET` answers this status (403: the signed URL expired).
        public var getStatus: Int? = nil
        /// The first `count` `GET`s send `after` bytes of their body, then cut the connection.
        public var drops: (count: Int, after: Int)? = nil
        /// Bytes per second each response is sent at (nil: as fast as it goes).
        public var bytesPerSecond: Int? = nil

        public init(rejectHead: Bool = true, getStatus: Int? = nil, drops: (count: Int, after: Int)? = nil, bytesPerSecond: Int? = nil) {
            self.rejectHead = rejectHead
            self.getStatus = getStatus
            self.drops = drops
            self.bytesPerSecond = bytesPerSecond
        }
    }

    /// One request as the host saw it.
    public struct Logged: Sendable, Equatable {
        public let method: String
        public let range: String?

        public init(method: String, range: String?) {
            self.method = method
            self.range = range
        }
    }

    private struct State {
        var log: [Logged] = []
        var dropsLeft = 0
        var active = 0
        var mostActive = 0
    }

    public let port: Int
    public var url: String { "http://127.0.0.1:\(port)" }
    private let blobs: [Digest: [UInt8]]
    private let behaviour: Behaviour
    private let state = NIOLockedValueBox(State())
    private var task: Task<Void, any Error>?
    private var group: ServiceGroup?

    public init(blobs: [Digest: [UInt8]], behaviour: Behaviour = Behaviour()) {
        self.port = FreePort.next()
        self.blobs = blobs
        self.behaviour = behaviour
        state.withLockedValue { $0.dropsLeft = behaviour.drops?.count ?? 0 }
    }

    /// Every request, in order.
    public var requests: [Logged] { state.withLockedValue { $0.log } }
    /// The most responses that were being sent at once.
    public var mostConcurrent: Int { state.withLockedValue { $0.mostActive } }

    public func start() async throws {
        let responder = CallbackResponder<BasicRequestContext> { [self] request, _ in answer(request) }
        var logger = Logger(label: "fake-blob-host")
        logger.logLevel = .critical
        let app = Application(responder: responder, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        self.group = group
        task = Task { try await group.run() }
        try await waitUntilAnswering("\(url)/")
    }

    public func shutdown() async {
        guard let group else { return }
        await group.triggerGracefulShutdown()
        _ = try? await task?.value
    }

    private func answer(_ request: Request) -> Response {
        let range = request.headers[.range]
        let path = request.uri.path
        // The start-up probe is not a request of the test's.
        if path != "/" { state.withLockedValue { $0.log.append(Logged(method: request.method.rawValue, range: range)) } }
        guard let at = path.range(of: "/blobs/", options: .backwards),
              let digest = try? Digest(parsing: String(path[at.upperBound...])), let bytes = blobs[digest] else {
            return Response(status: path == "/" ? .ok : .notFound)
        }
        if request.method == .head { return Response(status: behaviour.rejectHead ? .forbidden : .ok) }
        if let status = behaviour.getStatus { return Response(status: .init(code: status)) }
        var lower = 0, upper = bytes.count
        var status = HTTPResponse.Status.ok
        var headers = HTTPFields()
        headers[.contentType] = "application/octet-stream"
        headers[.acceptRanges] = "bytes"
        if let range, let parsed = Self.parse(range, size: bytes.count) {
            (lower, upper) = parsed
            status = .partialContent
            headers[.contentRange] = "bytes \(lower)-\(upper - 1)/\(bytes.count)"
        }
        headers[.contentLength] = String(upper - lower)
        let cut: Int? = behaviour.drops.flatMap { drops in
            state.withLockedValue { s in
                guard s.dropsLeft > 0 else { return nil }
                s.dropsLeft -= 1
                return drops.after
            }
        }
        let rate = behaviour.bytesPerSecond
        let body = bytes[lower..<upper]
        return Response(status: status, headers: headers, body: ResponseBody(contentLength: body.count) { [self] writer in
            state.withLockedValue { $0.active += 1; $0.mostActive = max($0.mostActive, $0.active) }
            defer { state.withLockedValue { $0.active -= 1 } }
            let end = cut.map { min(body.count, $0) } ?? body.count
            let chunk = rate.map { max(1024, $0 / 50) } ?? (256 << 10)
            let start = ContinuousClock.now
            var sent = 0
            while sent < end {
                let next = min(end, sent + chunk)
                try await writer.write(ByteBuffer(bytes: body[(body.startIndex + sent)..<(body.startIndex + next)]))
                sent = next
                if let rate {
                    // Paced like a link of `rate` bytes a second: wait until this much is due.
                    let due = start + .milliseconds(Int64(sent) * 1000 / Int64(rate))
                    try await Task.sleep(until: due)
                }
            }
            if cut != nil && end < body.count { throw TestSupportError("connection cut on purpose") }
            try await writer.finish(nil)
        })
    }

    /// `bytes=a-b` or `bytes=a-`, within the blob.
    static func parse(_ header: String, size: Int) -> (Int, Int)? {
        guard header.hasPrefix("bytes=") else { return nil }
        let spec = header.dropFirst(6).split(separator: "-", omittingEmptySubsequences: false)
        guard spec.count == 2, let from = Int(spec[0]), from < size else { return nil }
        let to = spec[1].isEmpty ? size - 1 : min(size - 1, Int(spec[1]) ?? size - 1)
        guard to >= from else { return nil }
        return (from, to + 1)
    }
}
