import Foundation
import StrataCore
import StrataTesting
import Testing
import NIOHTTP1

extension Integration {
    /// Hits held in memory (manifests, large raw blobs) are answered on the event loop, below the routes:
    /// the client and the ledger cannot tell them from the routes' answers, and a
    /// connection's answers keep their order.
    @Suite struct MemoryHits {
        static let accept = [MediaType.ociManifest, .dockerManifest, .dockerManifestList, .ociIndex].map { ("Accept", $0.value) }

        /// The same requests answered twice by a restarted Strata: first from disk by the
        /// routes (memory is empty after a restart), then from memory.
        @Test func sameAnswersAndLedgerAsTheRoutes() async throws {
            let (registry, images) = try await SharedUpstream.shared.get()
            let cache = makeTempDirectory("memory-hits")
            let tagURL = "/v2/library/multi/manifests/1"
            let digestURL = "/v2/library/multi/manifests/\(images.multi.children[0].digest)?ns=docker.io"
            let (layer, layerBytes) = try #require(images.big.blobs.max { $0.value.count < $1.value.count })
            let blobURL = "/v2/library/big/blobs/\(layer)"
            let first = try await StrataInstance.start(canonical: registry.url, cacheDirectory: cache)
            #expect(try await fetch(first.url + tagURL, headers: Self.accept).headers.first(name: "X-Strata-Tier") == "canonical")
            #expect(try await fetch(first.url + digestURL, headers: Self.accept).headers.first(name: "X-Strata-Tier") == "canonical")
            #expect(try await fetch(first.url + blobURL).body == layerBytes)
            await first.stop()

            let strata = try await StrataInstance.start(canonical: "http://127.0.0.1:9", cacheDirectory: cache)
            defer { Task { await strata.stop() } }
            let range = [("Range", "bytes=1000-1999")]
            let cases: [(String, HTTPMethod, [(String, String)], Int)] = [
                (tagURL, .GET, Self.accept, 200), (tagURL, .HEAD, Self.accept, 200), (digestURL, .GET, Self.accept, 200),
                (digestURL, .HEAD, Self.accept, 200), (blobURL, .HEAD, [], 200), (blobURL, .GET, range, 206), (blobURL, .GET, [], 200),
            ]
            for (url, method, headers, status) in cases {
                let fromDisk = try await fetch(strata.url + url, method: method, headers: headers)
                let fromMemory = try await fetch(strata.url + url, method: method, headers: headers)
                #expect(fromDisk.status == status)
                #expect(fromMemory.status == status)
                #expect(fromMemory.body == fromDisk.body)
                #expect(fromMemory.headers.first(name: "Date") != nil)
                let headers = { (h: HTTPHeaders) in h.filter { $0.name != "Date" }.map { "\($0.name): \($0.value)" } }
                #expect(headers(fromMemory.headers) == headers(fromDisk.headers), "\(method) \(url)")
                #expect(fromMemory.headers.first(name: "X-Strata-Tier") == "local")
            }
            #expect(try await fetch(strata.url + digestURL, headers: Self.accept).headers.first(name: "OCI-Namespace") == "docker.io")

            let ledger = try await Admin().get(Admin.Requests.self, "\(strata.adminURL)/api/requests?limit=100").requests
            let tagGets = ledger.filter { $0.method == "GET" && $0.path == tagURL }
            #expect(tagGets.count == 2)
            for record in tagGets {
                #expect(record.kind == "manifest" && record.tier == "local" && record.status == 200)
                #expect(record.repository == "library/multi" && record.reference == "1")
                #expect(record.bytes == Int64(images.multi.manifest.count))
                #expect(record.client == "127.0.0.1")
            }
            let heads = ledger.filter { $0.method == "HEAD" && $0.path == tagURL }
            #expect(heads.count == 2 && heads.allSatisfy { $0.bytes == 0 && $0.tier == "local" })
            let blobGets = ledger.filter { $0.method == "GET" && $0.path == blobURL }
            #expect(blobGets.map(\.bytes).sorted() == [1000, 1000, Int64(layerBytes.count), Int64(layerBytes.count)])
            #expect(blobGets.allSatisfy { $0.kind == "blob" && $0.tier == "local" && $0.reference == layer.description })
            #expect(try await fetch(strata.url + blobURL, headers: range).body == Array(layerBytes[1000..<2000]))
        }

        /// Pipelined requests are answered in the order they came, whichever path answers
        /// each: a blob (the routes, with sendfile) before a manifest hit (memory).
        @Test func pipelinedAnswersKeepTheirOrder() async throws {
            let (registry, images) = try await SharedUpstream.shared.get()
            let strata = try await StrataInstance.start(canonical: registry.url)
            defer { Task { await strata.stop() } }
            let (blob, bytes) = try #require(images.small.blobs.max { $0.value.count < $1.value.count })
            let manifest = "/v2/library/small/manifests/1"
            #expect(try await fetch(strata.url + "/v2/library/small/blobs/\(blob)").body == bytes)
            #expect(try await fetch(strata.url + manifest, headers: Self.accept).status == 200)

            let accept = Self.accept.map { "\($0.0): \($0.1)\r\n" }.joined()
            let requests = "GET /v2/library/small/blobs/\(blob) HTTP/1.1\r\nHost: strata\r\n\r\n"
                + "GET \(manifest) HTTP/1.1\r\nHost: strata\r\n\(accept)\r\n"
                + "GET /v2/library/small/blobs/\(blob) HTTP/1.1\r\nHost: strata\r\n\r\n"
                + "HEAD \(manifest) HTTP/1.1\r\nHost: strata\r\n\(accept)Connection: close\r\n\r\n"
            let port = strata.port
            let answer = try await Task.detached { try RawTCP.exchange(port: port, send: Array(requests.utf8), timeout: 10) }.value
            #expect(answer.closedByPeer)
            let text = String(decoding: answer.bytes, as: UTF8.self)
            let digests = text.split(separator: "\r\n").filter { $0.hasPrefix("Docker-Content-Digest: ") }.map { String($0.dropFirst(23)) }
            #expect(digests == [blob.description, images.small.digest.description, blob.description, images.small.digest.description])
            #expect(text.components(separatedBy: "HTTP/1.1 200 OK").count == 5)
            #expect(answer.bytes.count > 2 * bytes.count)
        }
    }
}
