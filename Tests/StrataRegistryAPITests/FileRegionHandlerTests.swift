import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing
@testable import StrataRegistryAPI

/// The sendfile path below Hummingbird: what the handler puts on the wire for a marked
/// response, what it leaves alone, and that every file it was given gets closed.
@Suite struct FileRegionHandlerTests {
    let handler = FileRegionHandler()
    let channel: EmbeddedChannel
    let path: String

    init() throws {
        channel = EmbeddedChannel(handler: handler)
        path = NSTemporaryDirectory() + "strata-region-\(UUID().uuidString)"
        try Data(repeating: 7, count: 10_000).write(to: URL(fileURLWithPath: path))
    }

    func open() throws -> NIOFileHandle {
        try NIOFileHandle(_deprecatedPath: path)
    }

    func head(token: String?, length: Int) -> HTTPServerResponsePart {
        var headers = HTTPHeaders([("Content-Length", "\(length)"), ("X-Strata-Tier", "local")])
        if let token { headers.add(name: FileRegionMarker.headerName, value: token) }
        return .head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))
    }

    /// What became of a registration's `sent` future: nil while it is pending.
    func outcome(_ registration: FileRegionHandler.Registration) -> Result<Void, any Error>? {
        // The embedded event loop runs the callback at once, if the future is complete.
        let result = NIOLockedValueBox<Result<Void, any Error>?>(nil)
        registration.sent.whenComplete { outcome in result.withLockedValue { $0 = outcome } }
        return result.withLockedValue { $0 }
    }

    func next() throws -> HTTPServerResponsePart? {
        try channel.readOutbound(as: HTTPServerResponsePart.self)
    }

    @Test func storedRegionGoesOutAsAFileRegionAndTheFileIsClosedAfterTheEnd() throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try open()
        let registration = handler.add(file, use: .region(offset: 1_000, length: 4_000), on: channel.eventLoop)
        try channel.writeOutbound(head(token: String(registration.token), length: 4_000))
        #expect(outcome(registration) == nil)
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        guard case .success = outcome(registration) else { Issue.record("not reported sent"); return }

        guard case .head(let head) = try next() else { Issue.record("no head"); return }
        #expect(head.status == .ok)
        #expect(head.headers[FileRegionMarker.headerName].isEmpty)
        #expect(head.headers["X-Strata-Tier"] == ["local"])
        guard case .body(.fileRegion(let region)) = try next() else { Issue.record("no file region"); return }
        #expect(region.readerIndex == 1_000)
        #expect(region.endIndex == 5_000)
        guard case .end = try next() else { Issue.record("no end"); return }
        #expect(!file.isOpen)
        _ = try channel.finish()
    }

    @Test func aLargeBlobGoesOutInSendfileChunksThatCoverItExactly() throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let large = path + ".large"
        try Data(count: 5 << 20).write(to: URL(fileURLWithPath: large))
        defer { try? FileManager.default.removeItem(atPath: large) }
        let registration = handler.add(try NIOFileHandle(_deprecatedPath: large), use: .region(offset: 1, length: (5 << 20) - 1), on: channel.eventLoop)
        try channel.writeOutbound(head(token: String(registration.token), length: (5 << 20) - 1))
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        var regions: [Range<Int>] = []
        while let part = try next() {
            if case .body(.fileRegion(let region)) = part { regions.append(region.readerIndex..<region.endIndex) }
        }
        let chunk = Int(FileRegionHandler.sendfileChunk)
        #expect(regions == [1..<chunk + 1, chunk + 1..<2 * chunk + 1, 2 * chunk + 1..<5 << 20])
        _ = try channel.finish()
    }

    @Test func followedFillSendsTheRegionsAndBytesItsBodyNames() throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try open()
        let registration = handler.add(file, use: .follow, on: channel.eventLoop)
        try channel.writeOutbound(head(token: String(registration.token), length: 3_003))
        try channel.writeOutbound(HTTPServerResponsePart.body(.byteBuffer(FileRegionInstruction.region(offset: 0, length: 1_000).encoded())))
        try channel.writeOutbound(HTTPServerResponsePart.body(.byteBuffer(FileRegionInstruction.region(offset: 1_000, length: 2_000).encoded())))
        try channel.writeOutbound(HTTPServerResponsePart.body(.byteBuffer(FileRegionInstruction.bytes(ByteBuffer(string: "abc")).encoded())))
        #expect(file.isOpen)
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))

        guard case .head = try next() else { Issue.record("no head"); return }
        var regions: [Range<Int>] = []
        var bytes = ""
        while let part = try next() {
            switch part {
            case .body(.fileRegion(let region)): regions.append(region.readerIndex..<region.endIndex)
            case .body(.byteBuffer(let buffer)): bytes += String(buffer: buffer)
            case .end: break
            default: Issue.record("unexpected \(part)")
            }
        }
        #expect(regions == [0..<1_000, 1_000..<3_000])
        #expect(bytes == "abc")
        #expect(!file.isOpen)
        _ = try channel.finish()
    }

    @Test func aShortFileOrUnknownTokenGivesA503AndNoBody() throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try open()
        let registration = handler.add(file, use: .region(offset: 0, length: 20_000), on: channel.eventLoop)  // the file has 10,000 bytes
        for marker in [String(registration.token), "999", "garbled"] {
            try channel.writeOutbound(head(token: marker, length: 20_000))
            try channel.writeOutbound(HTTPServerResponsePart.body(.byteBuffer(FileRegionInstruction.region(offset: 0, length: 10).encoded())))
            try channel.writeOutbound(HTTPServerResponsePart.end(nil))

            guard case .head(let head) = try next() else { Issue.record("no head"); return }
            #expect(head.status == .serviceUnavailable)
            #expect(head.headers[FileRegionMarker.headerName].isEmpty)
            #expect(head.headers["X-Strata-Tier"] == ["local"])
            guard case .body(.byteBuffer(let body)) = try next() else { Issue.record("no error body"); return }
            #expect(head.headers["Content-Length"] == ["\(body.readableBytes)"])
            #expect(String(buffer: body).contains("\"UNAVAILABLE\""))
            guard case .end = try next() else { Issue.record("the instruction leaked"); return }
        }
        #expect(!file.isOpen)
        guard case .failure = outcome(registration) else { Issue.record("a 503 reported as sent"); return }
        _ = try channel.finish()
    }

    @Test func unmarkedResponsesPassUntouched() throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        try channel.writeOutbound(head(token: nil, length: 2))
        try channel.writeOutbound(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: "{}"))))
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        guard case .head(let head) = try next() else { Issue.record("no head"); return }
        #expect(head.headers["X-Strata-Tier"] == ["local"])
        guard case .body(.byteBuffer(let body)) = try next() else { Issue.record("no body"); return }
        #expect(String(buffer: body) == "{}")
        _ = try channel.finish()
    }

    @Test func filesOfResponsesNeverWrittenAreClosedWithTheConnection() throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let pending = try open(), current = try open()
        let waiting = handler.add(pending, use: .follow, on: channel.eventLoop)
        let sending = handler.add(current, use: .follow, on: channel.eventLoop)
        try channel.writeOutbound(head(token: String(sending.token), length: 10))
        _ = try channel.finish()
        #expect(!pending.isOpen)
        #expect(!current.isOpen)
        for registration in [waiting, sending] {
            guard case .failure = outcome(registration) else { Issue.record("a cut-off response reported as sent"); return }
        }
    }

    @Test func instructionsRoundTrip() {
        for instruction in [FileRegionInstruction.region(offset: 5, length: 1 << 40), .bytes(ByteBuffer(string: "xyz")), .bytes(ByteBuffer())] {
            #expect(FileRegionInstruction(decoding: instruction.encoded()) == instruction)
        }
        #expect(FileRegionInstruction(decoding: ByteBuffer(string: "Rshort")) == nil)
        #expect(FileRegionInstruction(decoding: ByteBuffer()) == nil)
    }
}
