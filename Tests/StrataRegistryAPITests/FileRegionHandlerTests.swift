import Foundation
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing
@testable import StrataRegistryAPI

/// The sendfile path for raw cache hits, below Hummingbird: what the handler puts on
/// the wire for a marked response head, and what it leaves alone.
@Suite struct FileRegionHandlerTests {
    func file(_ bytes: Int) throws -> String {
        let path = NSTemporaryDirectory() + "strata-region-\(UUID().uuidString)"
        try Data(repeating: 7, count: bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func head(_ marker: FileRegionMarker?) -> HTTPServerResponsePart {
        var headers = HTTPHeaders([("Content-Length", "\(marker?.length ?? 0)"), ("X-Strata-Tier", "cache")])
        if let marker { headers.add(name: FileRegionMarker.headerName, value: marker.headerValue) }
        return .head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))
    }

    @Test func markedHeadBecomesTheFileRegionAndTheMarkerIsStripped() throws {
        let path = try file(10_000)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let channel = EmbeddedChannel(handler: FileRegionHandler())
        try channel.writeOutbound(head(FileRegionMarker(path: path, offset: 1_000, length: 4_000)))
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))

        guard case .head(let head) = try channel.readOutbound(as: HTTPServerResponsePart.self) else { Issue.record("no head"); return }
        #expect(head.status == .ok)
        #expect(head.headers[FileRegionMarker.headerName].isEmpty)
        #expect(head.headers["X-Strata-Tier"] == ["cache"])
        guard case .body(.fileRegion(let region)) = try channel.readOutbound(as: HTTPServerResponsePart.self) else {
            Issue.record("no file region"); return
        }
        #expect(region.readerIndex == 1_000)
        #expect(region.endIndex == 5_000)
        guard case .end = try channel.readOutbound(as: HTTPServerResponsePart.self) else { Issue.record("no end"); return }
        _ = try channel.finish()
    }

    @Test(arguments: ["missing", "short", "garbled"])
    func aBlobThatIsGoneOrShortGivesA503NotACutOffBody(_ case_: String) throws {
        let path = try file(1_000)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let channel = EmbeddedChannel(handler: FileRegionHandler())
        var headers = HTTPHeaders([("Content-Length", "4000"), ("X-Strata-Tier", "cache")])
        switch case_ {
        case "missing": headers.add(name: FileRegionMarker.headerName, value: FileRegionMarker(path: path + ".gone", offset: 0, length: 4_000).headerValue)
        case "short": headers.add(name: FileRegionMarker.headerName, value: FileRegionMarker(path: path, offset: 0, length: 4_000).headerValue)
        default: headers.add(name: FileRegionMarker.headerName, value: "x y")
        }
        try channel.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers)))
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))

        guard case .head(let head) = try channel.readOutbound(as: HTTPServerResponsePart.self) else { Issue.record("no head"); return }
        #expect(head.status == .serviceUnavailable)
        #expect(head.headers[FileRegionMarker.headerName].isEmpty)
        #expect(head.headers["X-Strata-Tier"] == ["cache"])
        guard case .body(.byteBuffer(let body)) = try channel.readOutbound(as: HTTPServerResponsePart.self) else { Issue.record("no body"); return }
        #expect(head.headers["Content-Length"] == ["\(body.readableBytes)"])
        #expect(String(buffer: body).contains("\"UNAVAILABLE\""))
        guard case .end = try channel.readOutbound(as: HTTPServerResponsePart.self) else { Issue.record("no end"); return }
        _ = try channel.finish()
    }

    @Test func unmarkedResponsesPassUntouched() throws {
        let channel = EmbeddedChannel(handler: FileRegionHandler())
        try channel.writeOutbound(head(nil))
        try channel.writeOutbound(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: "{}"))))
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        guard case .head(let head) = try channel.readOutbound(as: HTTPServerResponsePart.self) else { Issue.record("no head"); return }
        #expect(head.headers["X-Strata-Tier"] == ["cache"])
        guard case .body(.byteBuffer(let body)) = try channel.readOutbound(as: HTTPServerResponsePart.self) else { Issue.record("no body"); return }
        #expect(String(buffer: body) == "{}")
        _ = try channel.finish()
    }

    @Test func markerRoundTripsPathsWithSpaces() {
        let marker = FileRegionMarker(path: "/var/cache/my strata/blobs/data", offset: 5, length: 10)
        #expect(FileRegionMarker(headerValue: marker.headerValue) == marker)
        #expect(FileRegionMarker(headerValue: "-1 10 /x") == nil)
        #expect(FileRegionMarker(headerValue: "1 10 ") == nil)
    }
}
