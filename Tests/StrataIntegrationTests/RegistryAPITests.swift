import AsyncHTTPClient
import Foundation
import StrataCore
import StrataTesting
import Testing
import NIOHTTP1

extension Integration {
    /// The registry port's answers, as the distribution spec describes them.
    @Suite struct RegistryAPI {
        @Test func answersLikeTheSpec() async throws {
            let (registry, images) = try await SharedUpstream.shared.get()
            let strata = try await StrataInstance.start(canonical: registry.url)
            defer { Task { await strata.stop() } }
            let base = strata.url

            let ping = try await fetch("\(base)/v2/")
            #expect(ping.status == 200)
            #expect(ping.body == Array("{}".utf8))
            #expect(ping.headers.first(name: "Docker-Distribution-Api-Version") == "registry/2.0")

            // HEAD by tag, as dockerd sends it: six Accept lines.
            let dockerAccept = ["application/json", MediaType.ociManifest.value, MediaType.dockerManifest.value,
                                MediaType.dockerManifestList.value, MediaType.ociIndex.value,
                                "application/vnd.docker.distribution.manifest.v1+prettyjws"].map { ("Accept", $0) }
            let head = try await fetch("\(base)/v2/library/multi/manifests/1", method: .HEAD, headers: dockerAccept)
            #expect(head.status == 200)
            #expect(head.body.isEmpty)
            #expect(head.headers.first(name: "Content-Type") == MediaType.ociIndex.value)
            #expect(head.headers.first(name: "Docker-Content-Digest") == images.multi.digest.description)
            #expect(head.headers.first(name: "Content-Length") == String(images.multi.manifest.count))
            #expect(head.headers.first(name: "ETag") == "\"\(images.multi.digest)\"")
            #expect(head.headers.first(name: "X-Strata-Tier") == "canonical")

            // GET by digest, containerd style (?ns=docker.io, one comma-joined Accept).
            let child = images.multi.children[0]
            let byDigest = try await fetch("\(base)/v2/library/multi/manifests/\(child.digest)?ns=docker.io",
                                           headers: [("Accept", "\(MediaType.ociManifest.value), */*")])
            #expect(byDigest.status == 200)
            #expect(byDigest.body == child.manifest)
            #expect(byDigest.headers.first(name: "Content-Type") == MediaType.ociManifest.value)

            // The second GET of the tag is a cache hit.
            let again = try await fetch("\(base)/v2/library/multi/manifests/1", headers: dockerAccept)
            #expect(again.body == images.multi.manifest)
            #expect(again.headers.first(name: "X-Strata-Tier") == "local")

            // The client's Accept is passed upstream: an OCI manifest asked for with only
            // the Docker type is not found there, and so not here.
            let wrongType = try await fetch("\(base)/v2/library/small/manifests/latest", headers: [("Accept", MediaType.dockerManifest.value)])
            #expect(wrongType.status == 404)
            #expect(Self.code(wrongType.body) == "MANIFEST_UNKNOWN")

            // Blobs: whole, HEAD, Range over a raw and over a compressed blob, 416.
            for (digest, bytes) in images.small.blobs {
                let url = "\(base)/v2/library/small/blobs/\(digest)"
                let whole = try await fetch(url)
                #expect(whole.status == 200)
                #expect(whole.body == bytes)
                #expect(whole.headers.first(name: "Accept-Ranges") == "bytes")
                // A cache hit: raw blobs go out with sendfile, the marker never reaches the client.
                let hit = try await fetch(url)
                #expect(hit.status == 200)
                #expect(hit.body == bytes)
                #expect(hit.headers.first(name: "X-Strata-Tier") == "local")
                #expect(hit.headers.first(name: "x-strata-file-region") == nil)
                let blobHead = try await fetch(url, method: .HEAD)
                #expect(blobHead.status == 200)
                #expect(blobHead.headers.first(name: "Content-Length") == String(bytes.count))
                #expect(blobHead.headers.first(name: "Docker-Content-Digest") == digest.description)
                if bytes.count > 200_000 {
                    let lower = 100_000, upper = 150_000
                    let part = try await fetch(url, headers: [("Range", "bytes=\(lower)-\(upper - 1)")])
                    #expect(part.status == 206)
                    #expect(part.body == Array(bytes[lower..<upper]))
                    #expect(part.headers.first(name: "Content-Range") == "bytes \(lower)-\(upper - 1)/\(bytes.count)")
                }
                let tail = try await fetch(url, headers: [("Range", "bytes=-10")])
                #expect(tail.status == 206)
                #expect(tail.body == Array(bytes.suffix(10)))
                let beyond = try await fetch(url, headers: [("Range", "bytes=\(bytes.count)-")])
                #expect(beyond.status == 416)
                #expect(beyond.headers.first(name: "Content-Range") == "bytes */\(bytes.count)")
            }
            // The text layer is stored as zstd frames, the random one raw.
            let stored = images.small.blobs.keys.compactMap { strata.server.disk.blobs.lookup($0) }
            #expect(stored.contains { $0.compressed })
            #expect(stored.contains { !$0.compressed })

            // Errors.
            let digest = "sha256:" + String(repeating: "0", count: 64)
            let unknownBlob = try await fetch("\(base)/v2/library/small/blobs/\(digest)")
            #expect(unknownBlob.status == 404)
            #expect(Self.code(unknownBlob.body) == "BLOB_UNKNOWN")
            let unknownManifest = try await fetch("\(base)/v2/library/nothing/manifests/1")
            #expect(unknownManifest.status == 404)
            #expect(Self.code(unknownManifest.body) == "MANIFEST_UNKNOWN")
            for path in ["/v2/Library/x/manifests/1", "/v2/a/../b/manifests/1", "/v2/a%2e/manifests/1"] {
                let bad = try await fetch(base + path)
                #expect(bad.status == 400, "\(path)")
                #expect(Self.code(bad.body) == "NAME_INVALID", "\(path)")
            }
            let badDigest = try await fetch("\(base)/v2/library/small/blobs/sha256:XYZ")
            #expect(badDigest.status == 400)
            #expect(Self.code(badDigest.body) == "DIGEST_INVALID")
            for (method, path) in [(HTTPMethod.PUT, "/v2/library/small/manifests/1"), (.DELETE, "/v2/library/small/manifests/1"),
                                   (.POST, "/v2/library/small/blobs/uploads/"), (.DELETE, "/v2/library/small/blobs/\(digest)"),
                                   (.PATCH, "/v2/library/small/blobs/uploads/abc")] {
                let refused = try await fetch(base + path, method: method)
                #expect(refused.status == 405, "\(method) \(path)")
                #expect(Self.code(refused.body) == "UNSUPPORTED", "\(method) \(path)")
            }

            // Catalog and tags over what is cached, with n/last paging.
            _ = try await fetch("\(base)/v2/library/small/manifests/1")
            _ = try await fetch("\(base)/v2/library/small/manifests/latest")
            let catalog = try await fetch("\(base)/v2/_catalog")
            #expect(String(decoding: catalog.body, as: UTF8.self) == #"{"repositories":["library/multi","library/small"]}"#)
            let page = try await fetch("\(base)/v2/_catalog?n=1")
            #expect(String(decoding: page.body, as: UTF8.self) == #"{"repositories":["library/multi"]}"#)
            #expect(page.headers.first(name: "Link") == #"</v2/_catalog?last=library/multi&n=1>; rel="next""#)
            let next = try await fetch("\(base)/v2/_catalog?n=1&last=library/multi")
            #expect(String(decoding: next.body, as: UTF8.self) == #"{"repositories":["library/small"]}"#)
            let tags = try await fetch("\(base)/v2/library/small/tags/list")
            #expect(String(decoding: tags.body, as: UTF8.self) == #"{"name":"library/small","tags":["1","latest"]}"#)
            let tagPage = try await fetch("\(base)/v2/library/small/tags/list?n=1&last=1")
            #expect(String(decoding: tagPage.body, as: UTF8.self) == #"{"name":"library/small","tags":["latest"]}"#)
        }

        /// podman and skopeo probe a plain port with TLS first; they need a quick 400 and a close.
        @Test func strayTLSBytesGetA400AndAClose() async throws {
            let strata = try await StrataInstance.start(canonical: nil)
            defer { Task { await strata.stop() } }
            let port = strata.port
            let start = ContinuousClock.now
            let result = try await Task.detached { try RawTCP.exchange(port: port, send: RawTCP.tlsClientHello, timeout: 5) }.value
            #expect(String(decoding: result.bytes.prefix(12), as: UTF8.self) == "HTTP/1.1 400")
            #expect(result.closedByPeer)
            #expect(ContinuousClock.now - start < .seconds(2))
        }

        static func code(_ body: [UInt8]) -> String? {
            struct Body: Decodable { struct E: Decodable { let code: String }; let errors: [E] }
            return (try? JSONDecoder().decode(Body.self, from: Data(body)))?.errors.first?.code
        }

        static func message(_ body: [UInt8]) -> String? {
            struct Body: Decodable { struct E: Decodable { let message: String }; let errors: [E] }
            return (try? JSONDecoder().decode(Body.self, from: Data(body)))?.errors.first?.message
        }
    }
}
