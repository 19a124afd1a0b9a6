import Foundation
import Testing
@testable import StrataCore

@Suite struct IPAddressClassTests {
    @Test(arguments: [
        ("127.0.0.1", IPAddressClass.loopback), ("127.255.0.9", .loopback), ("::1", .loopback),
        ("10.1.2.3", .private), ("172.16.0.1", .private), ("172.31.255.255", .private), ("192.168.1.1", .private),
        ("100.64.0.1", .private), ("fd12::1", .private), ("fc00::", .private),
        ("169.254.169.254", .linkLocal), ("fe80::1", .linkLocal), ("fd00:ec2::254", .linkLocal), ("::ffff:169.254.169.254", .linkLocal),
        ("0.0.0.0", .unusable), ("::", .unusable), ("224.0.0.1", .unusable), ("255.255.255.255", .unusable), ("ff02::1", .unusable),
        ("8.8.8.8", .public), ("172.32.0.1", .public), ("2001:db8::1", .public), ("::ffff:10.0.0.1", .private),
    ])
    func classifies(_ address: String, _ expected: IPAddressClass) {
        #expect(IPAddressClass(address: address) == expected)
    }

    @Test(arguments: ["", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01234.1.1.1", "a::b::c", "1:2:3:4:5:6:7:8:9", "::g", "example.com", "1.2.3.-1", ":::", "+1::"])
    func rejects(_ text: String) {
        #expect(IPAddressClass(address: text) == nil)
    }
}

@Suite struct HeaderNumbersTests {
    @Test func contentLength() {
        #expect(HeaderNumbers.contentLength("0") == 0)
        #expect(HeaderNumbers.contentLength(" 1234 ") == 1234)
        #expect(HeaderNumbers.contentLength("4611686018427387904") == 1 << 62)
        #expect(HeaderNumbers.contentLength("9223372036854775807") == nil)
        #expect(HeaderNumbers.contentLength("99999999999999999999") == nil)
        #expect(HeaderNumbers.contentLength("-1") == nil)
        #expect(HeaderNumbers.contentLength("+1") == nil)
        #expect(HeaderNumbers.contentLength("1 2") == nil)
        #expect(HeaderNumbers.contentLength("") == nil)
    }

    @Test func retryAfter() {
        let now = Date(timeIntervalSince1970: 1_445_412_400)  // Wed, 21 Oct 2015 07:26:40 GMT
        #expect(HeaderNumbers.retryAfter("120", now: now) == 120)
        #expect(HeaderNumbers.retryAfter("99999999999999999999999", now: now) == HeaderNumbers.maxRetryAfter)
        #expect(HeaderNumbers.retryAfter("Wed, 21 Oct 2015 07:28:00 GMT", now: now) == 80)
        #expect(HeaderNumbers.retryAfter("Wed, 21 Oct 2015 07:00:00 GMT", now: now) == 0)
        #expect(HeaderNumbers.retryAfter("inf", now: now) == nil)
        #expect(HeaderNumbers.retryAfter("nan", now: now) == nil)
        #expect(HeaderNumbers.retryAfter("-5", now: now) == nil)
        #expect(HeaderNumbers.retryAfter("Thu, 01 Jan 1970 00:00:00 GMT", now: Date(timeIntervalSince1970: 0)) == 0)
        #expect(HeaderNumbers.imfFixdate("Tue, 29 Feb 2028 23:59:59 GMT") == Date(timeIntervalSince1970: 1_835_481_599))
        #expect(HeaderNumbers.imfFixdate("Wed, 21 Oct 2015 07:28:00 UTC") == nil)
        #expect(HeaderNumbers.imfFixdate("Wed, 21 Foo 2015 07:28:00 GMT") == nil)
        #expect(HeaderNumbers.imfFixdate("Wed, 41 Oct 2015 07:28:00 GMT") == nil)
        // Found by the fuzzer: Foundation's DateFormatter trapped on this (invalid UTF-8).
        #expect(HeaderNumbers.retryAfter(String(decoding: Array("Wed, 1 Oct 2015 07:1".utf8) + [0xcc, 0x85, 0xcf, 0xd3] + Array(" GMT".utf8), as: UTF8.self), now: now) == nil)
    }

    @Test func saturatingAdd() {
        #expect(Int64.max.saturatingAdd(1) == .max)
        #expect(Int64.min.saturatingAdd(-1) == .min)
        #expect(Int64(5).saturatingAdd(-7) == -2)
    }
}

@Suite struct ManifestCheckTests {
    static let digest = "sha256:" + String(repeating: "a", count: 64)
    static let image = #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"x/y","digest":"\#(digest)","size":2},"layers":[]}"#
    static let index = #"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"\#(digest)","size":10}]}"#

    @Test func acceptsManifests() throws {
        #expect(try ManifestCheck.mediaType(of: Array(Self.image.utf8), contentType: "application/vnd.oci.image.manifest.v1+json") == MediaType.ociManifest.value)
        #expect(try ManifestCheck.mediaType(of: Array(Self.image.utf8), contentType: "application/json") == MediaType.ociManifest.value)
        #expect(try ManifestCheck.mediaType(of: Array(Self.index.utf8), contentType: "application/vnd.oci.image.index.v1+json; charset=utf-8") == MediaType.ociIndex.value)
        #expect(try ManifestCheck.mediaType(of: Array(Self.index.utf8), contentType: "") == MediaType.ociIndex.value)
    }

    @Test func refusesWhatIsNotTheClaimedManifest() {
        let html = Array("<html>log in</html>".utf8)
        #expect(throws: ManifestCheck.Failure.self) { try ManifestCheck.mediaType(of: html, contentType: "text/html") }
        #expect(throws: ManifestCheck.Failure.self) { try ManifestCheck.mediaType(of: html, contentType: "application/vnd.oci.image.manifest.v1+json") }
        #expect(throws: ManifestCheck.Failure.self) { try ManifestCheck.mediaType(of: Array(Self.image.utf8), contentType: "text/html") }
        // The body says image manifest, the header says index.
        #expect(throws: ManifestCheck.Failure.self) { try ManifestCheck.mediaType(of: Array(Self.image.utf8), contentType: "application/vnd.oci.image.index.v1+json") }
        // An image manifest without layers, an index whose entries are not descriptors.
        #expect(throws: ManifestCheck.Failure.self) {
            try ManifestCheck.mediaType(of: Array(#"{"schemaVersion":2,"config":{"digest":"\#(Self.digest)","size":1}}"#.utf8), contentType: "application/vnd.oci.image.manifest.v1+json")
        }
        #expect(throws: ManifestCheck.Failure.self) {
            try ManifestCheck.mediaType(of: Array(#"{"schemaVersion":2,"manifests":[{"digest":"nope","size":-1}]}"#.utf8), contentType: "application/vnd.oci.image.index.v1+json")
        }
        let deep = Array((String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)).utf8)
        #expect(throws: ManifestCheck.Failure.self) { try ManifestCheck.mediaType(of: deep, contentType: "application/json") }
        #expect(throws: (any Error).self) { try ManifestReferences(parsing: deep) }
    }

    @Test func referencesIgnoreHostileSizes() throws {
        let manifest = #"{"config":{"digest":"\#(Self.digest)","size":9223372036854775807},"layers":[{"digest":"\#(Self.digest)","size":9223372036854775807},{"digest":"\#(Self.digest)","size":1e300},{"digest":"\#(Self.digest)","size":-5}]}"#
        let references = try ManifestReferences(parsing: Array(manifest.utf8))
        #expect(references.contentSize == .max)
        #expect(references.layers.map(\.size) == [.max, 0, 0])
    }
}

@Suite struct TokenAnswerTests {
    @Test func parses() {
        #expect(TokenAnswer(parsing: Array(#"{"token":"abc.def","expires_in":300}"#.utf8)) == TokenAnswer(parsing: Array(#"{"access_token":"abc.def","expires_in":300}"#.utf8)))
        #expect(TokenAnswer(parsing: Array(#"{"token":"abc","expires_in":1e308}"#.utf8))?.expiresIn == 86400)
        #expect(TokenAnswer(parsing: Array(#"{"token":"abc","expires_in":-4}"#.utf8))?.expiresIn == 10)
        #expect(TokenAnswer(parsing: Array(#"{"token":"abc\r\nX-Injected: 1"}"#.utf8)) == nil)
        #expect(TokenAnswer(parsing: Array(#"{"token":""}"#.utf8)) == nil)
        #expect(TokenAnswer(parsing: Array("<html>".utf8)) == nil)
    }
}

@Suite struct TarHeaderTests {
    @Test func refusesHostileSizes() throws {
        var block = [UInt8](repeating: 0, count: 512)
        func set(_ text: String, at offset: Int) { for (i, b) in text.utf8.enumerated() { block[offset + i] = b } }
        set("file", at: 0)
        set("77777777777", at: 124)  // 11 octal digits: the largest size allowed
        set("        ", at: 148)
        let sum = block.reduce(0) { $0 + Int($1) }
        set(String(sum, radix: 8), at: 148)
        let header = try #require(try TarHeader(block: block))
        #expect(header.size == 0o77777777777)
        set("-0000000001", at: 124)
        #expect(throws: TarHeader.Invalid.self) { try TarHeader(block: block) }
        #expect(try TarHeader(block: [UInt8](repeating: 0, count: 512)) == nil)
        #expect(throws: TarHeader.Invalid.self) { try TarHeader(block: [1, 2, 3]) }
    }
}

/// Finding 11: strings from upstreams reached the operator's terminal raw.
@Suite struct PrintableTextTests {
    @Test func controlCharactersAreShownNotObeyed() {
        let title = "linux\u{1b}]0;pwned\u{07}"
        #expect(PrintableText.make(title) == "linux\\u{1b}]0;pwned\\u{7}")
        #expect(PrintableText.make("a\u{9b}2Jb\u{7f}") == "a\\u{9b}2Jb\\u{7f}")
        #expect(PrintableText.make("file\u{202e}txt.exe") == "file\\u{202e}txt.exe")
        #expect(PrintableText.make("plain/amd64 é") == "plain/amd64 é")
        #expect(PrintableText.make(String(repeating: "x", count: 50), limit: 10) == String(repeating: "x", count: 10) + "…")
        #expect(!PrintableText.isPrintable(title) && PrintableText.isPrintable("linux/arm64/v8"))
    }
}
