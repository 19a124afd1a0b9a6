import Testing
@testable import StrataCore

@Suite struct RepositoryNameTests {
    @Test(arguments: [
        "alpine", "library/alpine", "a/b/c/d", "my-org/my_image", "a__b", "a.b-c", "a---b", "0/1",
        String(repeating: "a", count: 255),
    ])
    func valid(_ name: String) throws {
        #expect(try RepositoryName(name).value == name)
    }

    @Test(arguments: [
        "", "..", "library/..", "../etc/passwd", "a/../b", "%2e%2e", "library/%2e", "Alpine", "library/Alpine",
        "a//b", "/a", "a/", "a___b", "-a", "a-", "a.", ".a", "a..b", "a._b", "a b", "a\u{0}b", "a\nb",
        String(repeating: "a", count: 256), "a:b", "a@b", "ä",
    ])
    func invalid(_ name: String) {
        #expect(throws: ValidationError.nameInvalid(name)) { try RepositoryName(name) }
    }
}

@Suite struct TagTests {
    @Test(arguments: ["latest", "3.20", "v1.0.0-rc_1", "_hidden", "A", String(repeating: "x", count: 128)])
    func valid(_ tag: String) throws {
        #expect(try Tag(tag).value == tag)
    }

    @Test(arguments: ["", ".hidden", "-dash", "a/b", "a:b", "a b", "a\u{0}", "%2e", String(repeating: "x", count: 129), "ü"])
    func invalid(_ tag: String) {
        #expect(throws: ValidationError.tagInvalid(tag)) { try Tag(tag) }
    }
}

@Suite struct DigestTests {
    static let hex64 = String(repeating: "ab", count: 32)
    static let hex128 = String(repeating: "0f", count: 64)

    @Test func validDigests() throws {
        let d = try Digest(parsing: "sha256:\(Self.hex64)")
        #expect(d.algorithm == .sha256)
        #expect(d.description == "sha256:\(Self.hex64)")
        #expect(try Digest(parsing: "sha512:\(Self.hex128)").algorithm == .sha512)
    }

    @Test(arguments: [
        "", "sha256", "sha256:", "sha256:abc", "sha256:\(hex64.uppercased())", "SHA256:\(hex64)", "md5:\(hex64)",
        "sha256:\(hex64)0", "sha512:\(hex64)", "sha256:\(String(hex64.dropLast()))g", "sha256:\(hex64)\u{0}",
        "sha256:../\(String(hex64.dropFirst(3)))", "sha256:%2e\(String(hex64.dropFirst(3)))", " sha256:\(hex64)",
    ])
    func invalid(_ text: String) {
        #expect(throws: ValidationError.digestInvalid(text)) { try Digest(parsing: text) }
    }

    @Test func hasherMatchesKnownVectors() {
        #expect(ContentHasher.digest(of: Array("".utf8)).hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(ContentHasher.digest(of: Array("abc".utf8)).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(ContentHasher.digest(of: Array("abc".utf8), algorithm: .sha512).hex.hasPrefix("ddaf35a193617aba"))
    }
}

@Suite struct MediaTypeTests {
    @Test func parsesAndStripsParameters() throws {
        #expect(try MediaType("application/vnd.oci.image.manifest.v1+json; charset=utf-8") == .ociManifest)
        #expect(try MediaType("Application/JSON").value == "application/json")
    }

    @Test(arguments: ["", "application", "application/", "/json", "a/b/c", "appli cation/json", "application/json\u{0}", "-x/y"])
    func invalid(_ text: String) {
        #expect(throws: ValidationError.mediaTypeInvalid(text)) { try MediaType(text) }
    }
}

@Suite struct RegistryPathTests {
    static let digest = "sha256:" + String(repeating: "cd", count: 32)

    @Test func parsesRoutes() throws {
        #expect(try RegistryPath(path: "/v2/") == .base)
        #expect(try RegistryPath(path: "/v2") == .base)
        #expect(try RegistryPath(path: "/v2/_catalog") == .catalog)
        let name = try RepositoryName("library/alpine")
        #expect(try RegistryPath(path: "/v2/library/alpine/tags/list") == .tagsList(name))
        #expect(try RegistryPath(path: "/v2/library/alpine/manifests/3.20") == .manifest(name, .tag(try Tag("3.20"))))
        #expect(try RegistryPath(path: "/v2/library/alpine/manifests/\(Self.digest)") == .manifest(name, .digest(try Digest(parsing: Self.digest))))
        #expect(try RegistryPath(path: "/v2/library/alpine/blobs/\(Self.digest)") == .blob(name, try Digest(parsing: Self.digest)))
        #expect(try RegistryPath(path: "/v2/library/alpine/blobs/uploads/") == .blobUpload(name))
        #expect(try RegistryPath(path: "/v2/a/manifests/b/manifests/c") == .manifest(try RepositoryName("a/manifests/b"), .tag(try Tag("c"))))
        #expect(try RegistryPath(path: "/other") == nil)
    }

    @Test func rejectsHostileInput() {
        #expect(throws: ValidationError.self) { try RegistryPath(path: "/v2/../etc/manifests/latest") }
        #expect(throws: ValidationError.self) { try RegistryPath(path: "/v2/library/%2e%2e/blobs/\(Self.digest)") }
        #expect(throws: ValidationError.digestInvalid("sha256:zz")) { try RegistryPath(path: "/v2/library/alpine/blobs/sha256:zz") }
        #expect(throws: ValidationError.self) { try RegistryPath(path: "/v2/Library/alpine/manifests/latest") }
        #expect(throws: ValidationError.tagInvalid(".x")) { try RegistryPath(path: "/v2/library/alpine/manifests/.x") }
    }
}

@Suite struct ByteRangeTests {
    @Test func resolves() {
        #expect(ByteRangeRequest(header: nil, size: 100) == .whole)
        #expect(ByteRangeRequest(header: "bytes=0-9", size: 100) == .partial(lower: 0, upper: 10))
        #expect(ByteRangeRequest(header: "bytes=90-", size: 100) == .partial(lower: 90, upper: 100))
        #expect(ByteRangeRequest(header: "bytes=90-1000", size: 100) == .partial(lower: 90, upper: 100))
        #expect(ByteRangeRequest(header: "bytes=-10", size: 100) == .partial(lower: 90, upper: 100))
        #expect(ByteRangeRequest(header: "bytes=100-", size: 100) == .unsatisfiable)
        #expect(ByteRangeRequest(header: "bytes=0-1,5-6", size: 100) == .whole)
        #expect(ByteRangeRequest(header: "items=0-1", size: 100) == .whole)
        #expect(ByteRangeRequest(header: "bytes=5-1", size: 100) == .whole)
    }

    /// Numbers at the edges of Int64 from a client: no trap, a clear answer.
    @Test func extremeNumbersDoNotTrap() {
        let max = Int64.max
        #expect(ByteRangeRequest(header: "bytes=0-\(max)", size: 100) == .partial(lower: 0, upper: 100))
        #expect(ByteRangeRequest(header: "bytes=0-\(max)", size: max) == .partial(lower: 0, upper: max))
        #expect(ByteRangeRequest(header: "bytes=\(max)-\(max)", size: 100) == .unsatisfiable)
        #expect(ByteRangeRequest(header: "bytes=-\(max)", size: 100) == .partial(lower: 0, upper: 100))
        #expect(ByteRangeRequest(header: "bytes=0-99999999999999999999", size: 100) == .whole)
        #expect(ByteRangeRequest(header: "bytes=--1", size: 100) == .whole)
        #expect(ByteRangeRequest(header: "bytes=0-1", size: -5) == .whole)
    }
}

@Suite struct RegistryErrorTests {
    @Test func bodyFollowsTheSpec() {
        let error = RegistryError(.manifestUnknown, "manifest \"x\"\nnot found")
        #expect(error.status == 404)
        #expect(error.jsonBody == #"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest \"x\"\nnot found","detail":null}]}"#)
        #expect(RegistryError(.unsupported, "no").status == 405)
        #expect(RegistryError(.nameInvalid, "no").status == 400)
    }
}
