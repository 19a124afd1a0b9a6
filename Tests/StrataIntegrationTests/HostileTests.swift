import AsyncHTTPClient
import Foundation
import NIOHTTP1
import StrataCore
import StrataServer
import StrataTesting
import Testing

extension Integration {
    /// Requests and upstream answers an attacker would send. Every test here failed
    /// (most by killing the whole process) before the hardening it names.
    @Suite struct Hostile {
        /// A blob served by a well-behaved fake upstream, and Strata in front of it.
        static func strataWithBlob(_ bytes: [UInt8], fault: FaultyRegistry.Fault = .none,
                                   configure: @escaping (inout StrataConfiguration) -> Void = { _ in })
            async throws -> (FaultyRegistry, StrataInstance, Digest) {
            let (upstream, strata, digests) = try await strataWithBlobs([bytes], fault: fault, configure: configure)
            return (upstream, strata, digests[0])
        }

        /// Several blobs behind one fake upstream, and Strata in front of it.
        static func strataWithBlobs(_ blobs: [[UInt8]], fault: FaultyRegistry.Fault = .none,
                                    configure: @escaping (inout StrataConfiguration) -> Void = { _ in })
            async throws -> (FaultyRegistry, StrataInstance, [Digest]) {
            let digests = blobs.map { ContentHasher.digest(of: $0) }
            let upstream = FaultyRegistry(blobs: Dictionary(zip(digests, blobs), uniquingKeysWith: { a, _ in a }), fault: fault)
            try await upstream.start()
            let strata = try await StrataInstance.start(canonical: upstream.url, configure: configure)
            return (upstream, strata, digests)
        }

        /// Crash 1: `Range: bytes=0-<Int64.max>` on a cached and on a cold blob.
        @Test func rangeToInt64MaxIsServed() async throws {
            let bytes = ImageFixture.randomBytes(100_000)
            let (upstream, strata, digest) = try await Self.strataWithBlob(bytes)
            defer { upstream.stop(); Task { await strata.stop() } }
            let url = "\(strata.url)/v2/library/range/blobs/\(digest)"
            let range = [("Range", "bytes=0-\(Int64.max)")]
            // Cold: the fill answers the range.
            let cold = try await fetch(url, headers: range)
            #expect(cold.status == 206)
            #expect(cold.body == bytes)
            #expect(cold.headers.first(name: "Content-Range") == "bytes 0-99999/100000")
            // Cached.
            let cached = try await fetch(url, headers: range)
            #expect(cached.status == 206)
            #expect(cached.body == bytes)
            #expect(cached.headers.first(name: "X-Strata-Tier") == "local")
            let suffix = try await fetch(url, headers: [("Range", "bytes=-\(Int64.max)")])
            #expect(suffix.status == 206 && suffix.body == bytes)
            let past = try await fetch(url, headers: [("Range", "bytes=\(Int64.max)-")])
            #expect(past.status == 416)
        }

        /// Crash 2: an upstream that wants HTTP Basic auth, and Strata has no credentials.
        @Test func basicAuthUpstreamWithoutCredentialsIsDenied() async throws {
            let manifest = Array(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#.utf8)
            let upstream = FaultyRegistry(manifests: ["1": (MediaType.ociManifest.value, manifest)], fault: .none,
                                          requireBasic: ("user", "secret"))
            try await upstream.start()
            defer { upstream.stop() }
            let strata = try await StrataInstance.start(canonical: upstream.url)
            defer { Task { await strata.stop() } }
            for method in [HTTPMethod.GET, .HEAD, .GET] {
                let answer = try await fetch("\(strata.url)/v2/library/private/manifests/1", method: method,
                                             headers: [("Accept", MediaType.ociManifest.value)])
                #expect(answer.status == 403, "\(method)")
                if method == .GET {
                    #expect(String(decoding: answer.body, as: UTF8.self).contains("DENIED"))
                }
            }
            let blob = try await fetch("\(strata.url)/v2/library/private/blobs/sha256:\(String(repeating: "a", count: 64))")
            #expect(blob.status == 403)
            // Still serving.
            #expect(try await fetch("\(strata.url)/v2/").status == 200)
        }

        /// Crash 3: `Content-Length: 9223372036854775807` from upstream, on a blob, in a
        /// bounded cache: the fill fails, nothing is stored, the cache is not emptied.
        @Test func upstreamLengthOfInt64MaxFailsTheFill() async throws {
            let bytes = ImageFixture.randomBytes(64 << 10)
            let (upstream, strata, digest) = try await Self.strataWithBlob(bytes, fault: .lyingLength(Int64.max)) { config in
                config.maxSize = 1 << 30
            }
            defer { upstream.stop(); Task { await strata.stop() } }
            let url = "\(strata.url)/v2/library/huge/blobs/\(digest)"
            let answer = try? await fetch(url)
            if let answer { #expect(answer.status == 503 || answer.body != bytes) }
            #expect(strata.server.disk.blobs.lookup(digest) == nil)
            // A length that fits but is a lie (2^62): also a failed fill, not a crash.
            let second = FaultyRegistry(blobs: [digest: bytes], fault: .lyingLength(1 << 62))
            try await second.start()
            defer { second.stop() }
            let other = try await StrataInstance.start(canonical: second.url) { $0.maxSize = 1 << 30 }
            defer { Task { await other.stop() } }
            let lie = try? await fetch("\(other.url)/v2/library/huge/blobs/\(digest)")
            if let lie { #expect(lie.body.count <= bytes.count) }
            #expect(other.server.disk.blobs.lookup(digest) == nil)
            #expect(try await fetch("\(strata.url)/v2/").status == 200)
            #expect(try await fetch("\(other.url)/v2/").status == 200)
        }
    
        /// Item 4: redirects to sockets, metadata addresses and in loops are refused, and
        /// the ledger says so.
        @Test(arguments: [
            "http+unix://%2Fvar%2Frun%2Fdocker.sock/v1.43/info",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fe80::1]/x",
            "file:///etc/passwd",
            "http://0.0.0.0:1/x",
        ])
        func redirectOutsideThePolicyIsRefused(_ location: String) async throws {
            let bytes = ImageFixture.randomBytes(10_000)
            let (upstream, strata, digest) = try await Self.strataWithBlob(bytes, fault: .redirectLocation(location))
            defer { upstream.stop(); Task { await strata.stop() } }
            let answer = try await fetch("\(strata.url)/v2/library/redir/blobs/\(digest)")
            #expect(answer.status == 503)
            #expect(String(decoding: answer.body, as: UTF8.self).contains("redirect"))
            let ledger = try await fetch("\(strata.adminURL)/api/requests")
            #expect(String(decoding: ledger.body, as: UTF8.self).contains("redirect_refused"))
        }

        /// A redirect loop ends after 5 hops, as a refused redirect.
        @Test func redirectLoopEnds() async throws {
            let bytes = ImageFixture.randomBytes(10_000)
            let digest = ContentHasher.digest(of: bytes)
            let upstream = FaultyRegistry(blobs: [digest: bytes], fault: .redirect(to: ""))
            try await upstream.start()
            defer { upstream.stop() }
            let strata = try await StrataInstance.start(canonical: upstream.url)
            defer { Task { await strata.stop() } }
            // `.redirect(to: "")` answers with a relative Location: the same path again.
            let answer = try await fetch("\(strata.url)/v2/library/loop/blobs/\(digest)")
            #expect(answer.status == 503)
            #expect(upstream.requestCount <= 7)
            #expect(String(decoding: answer.body, as: UTF8.self).contains("redirect_refused"))
            let ledger = try await fetch("\(strata.adminURL)/api/requests")
            #expect(String(decoding: ledger.body, as: UTF8.self).contains("redirect_refused"))
        }
    
        /// Item 5: the admin port refuses cross-site writes and foreign `Host`s (DNS
        /// rebinding), and still answers its own command line.
        @Test func adminRefusesCrossSiteAndForeignHosts() async throws {
            let strata = try await StrataInstance.start(canonical: nil)
            defer { Task { await strata.stop() } }
            func raw(_ text: String) async throws -> String {
                let port = strata.adminPort
                let result = try await Task.detached { try RawTCP.exchange(port: port, send: Array(text.utf8)) }.value
                return String(decoding: result.bytes, as: UTF8.self)
            }
            let body = #"{"images":["library/x:1"]}"#
            let crossSite = try await raw("POST /api/prefetch HTTP/1.1\r\nHost: 127.0.0.1:\(strata.adminPort)\r\nOrigin: http://evil.example\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
            #expect(crossSite.hasPrefix("HTTP/1.1 403"))
            let textPlain = try await raw("POST /api/prefetch HTTP/1.1\r\nHost: 127.0.0.1:\(strata.adminPort)\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
            #expect(textPlain.hasPrefix("HTTP/1.1 403"))
            #expect(textPlain.contains("application/json"))
            let foreignOrigin = try await raw("POST /api/prefetch HTTP/1.1\r\nHost: 127.0.0.1:\(strata.adminPort)\r\nOrigin: http://evil.example\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
            #expect(foreignOrigin.hasPrefix("HTTP/1.1 403"))
            let rebound = try await raw("GET /api/stats HTTP/1.1\r\nHost: evil.example:\(strata.adminPort)\r\nConnection: close\r\n\r\n")
            #expect(rebound.hasPrefix("HTTP/1.1 403"))
            #expect(rebound.contains("Host"))
            // What the command line and a same-origin dashboard send still works.
            let local = try await raw("GET /api/stats HTTP/1.1\r\nHost: localhost:\(strata.adminPort)\r\nConnection: close\r\n\r\n")
            #expect(local.hasPrefix("HTTP/1.1 200"))
            let sameOrigin = try await raw("POST /api/prefetch HTTP/1.1\r\nHost: 127.0.0.1:\(strata.adminPort)\r\nOrigin: http://127.0.0.1:\(strata.adminPort)\r\nContent-Type: application/json\r\nContent-Length: 13\r\nConnection: close\r\n\r\n{\"images\":[]}")
            #expect(sameOrigin.hasPrefix("HTTP/1.1 400"))
        }
    
        /// Item 6: a cold range of a blob whose upstream bytes fail the digest is cut
        /// off, never completed.
        @Test func coldRangeOfBadBytesIsNeverCompleted() async throws {
            let bytes = ImageFixture.randomBytes(4 << 20)
            let (upstream, strata, digest) = try await Self.strataWithBlob(bytes, fault: .wrongBytes)
            defer { upstream.stop(); Task { await strata.stop() } }
            for range in ["bytes=0-1023", "bytes=\(bytes.count / 2)-\(bytes.count / 2 + 10)", "bytes=-100"] {
                do {
                    let answer = try await fetch("\(strata.url)/v2/library/badrange/blobs/\(digest)", headers: [("Range", range)])
                    // Only an error answer (made before any byte went out) is acceptable.
                    #expect(answer.status >= 500, "\(range): \(answer.status) with \(answer.body.count) bytes")
                } catch {
                    // Cut off: what the client must see (the connection, not another failure).
                    #expect(isCutOff(error), "\(range): \(error)")
                }
            }
            #expect(strata.server.disk.blobs.lookup(digest) == nil)
        }

        /// Item 7: an upstream answers a manifest by digest with an HTML page and a
        /// matching `Docker-Content-Digest`: refused, not stored.
        @Test func htmlAnsweredAsAManifestIsRefused() async throws {
            let page = Array("<html><body>Please log in to the network</body></html>".utf8)
            let digest = ContentHasher.digest(of: page)
            let wrongType = Array(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#.utf8)
            let wrongDigest = ContentHasher.digest(of: wrongType)
            let upstream = FaultyRegistry(manifests: [
                digest.description: ("text/html; charset=utf-8", page),
                wrongDigest.description: (MediaType.ociManifest.value, wrongType),
            ], fault: .none)
            try await upstream.start()
            defer { upstream.stop() }
            let strata = try await StrataInstance.start(canonical: upstream.url)
            defer { Task { await strata.stop() } }
            for d in [digest, wrongDigest] {
                let answer = try await fetch("\(strata.url)/v2/library/portal/manifests/\(d)", headers: [("Accept", MediaType.ociManifest.value)])
                #expect(answer.status == 503)
                #expect(String(decoding: answer.body, as: UTF8.self).contains("invalid_response"))
                #expect(strata.server.disk.blobs.lookup(d) == nil)
            }
        }

        /// Item 8: a stored blob with a flipped byte is not served as good. Small ones
        /// are checked on every read; large ones (raw and zstd) by the scrub, which
        /// quarantines them so the next request fetches them again.
        @Test func damagedStoredBlobsAreRefetched() async throws {
            let small = ImageFixture.randomBytes(10_000)
            let large = ImageFixture.randomBytes(3 << 20)
            let text = Array(String(repeating: "compressible layer text, line after line\n", count: 80_000).utf8)
            let blobs = [small, large, text]
            let (upstream, strata, digests) = try await Self.strataWithBlobs(blobs)
            defer { upstream.stop(); Task { await strata.stop() } }
            let store = strata.server.disk.blobs
            for (digest, bytes) in zip(digests, blobs) {
                #expect(try await fetch("\(strata.url)/v2/library/rot/blobs/\(digest)").body == bytes)
                #expect(store.lookup(digest) != nil)
            }
            #expect(store.lookup(digests[2])?.compressed == true)
            // Flip one byte in each stored file.
            for digest in digests {
                let directory = store.layout.blobDirectory(digest)
                let name = FileManager.default.fileExists(atPath: "\(directory)/data") ? "data" : "data.zst"
                let handle = try #require(FileHandle(forUpdatingAtPath: "\(directory)/\(name)"))
                try handle.seek(toOffset: 100)
                let old = try #require(try handle.read(upToCount: 1)).first ?? 0
                try handle.seek(toOffset: 100)
                try handle.write(contentsOf: Data([old ^ 0xff]))
                try handle.close()
            }
            let before = upstream.requestCount
            // Small: caught on read, fetched again.
            #expect(try await fetch("\(strata.url)/v2/library/rot/blobs/\(digests[0])").body == small)
            #expect(upstream.requestCount == before + 1)
            let report = try await strata.server.scrubber.pass()
            #expect(Set(report.quarantined) == Set(digests[1...]))
            for (digest, bytes) in zip(digests, blobs) {
                let answer = try await fetch("\(strata.url)/v2/library/rot/blobs/\(digest)")
                #expect(answer.body == bytes)
            }
            #expect(upstream.requestCount == before + 3)
            #expect(try await strata.server.scrubber.pass().quarantined.isEmpty)
        }
    
        /// Item 12: `CONNECT` gets the spec's error body and a closed connection, not a
        /// hang; oversized request lines and headers get the JSON error body too.
        @Test func connectAndOversizedRequestsGetOCIErrors() async throws {
            let strata = try await StrataInstance.start(canonical: nil)
            defer { Task { await strata.stop() } }
            let port = strata.port
            func exchange(_ text: String) async throws -> (String, Bool, Double) {
                let start = ContinuousClock.now
                let result = try await Task.detached { try RawTCP.exchange(port: port, send: Array(text.utf8), timeout: 5) }.value
                return (String(decoding: result.bytes, as: UTF8.self), result.closedByPeer, (ContinuousClock.now - start).inSeconds)
            }
            let (connect, closed, seconds) = try await exchange("CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n")
            // NIO's encoder sends no body after CONNECT: the status and Allow say it.
            #expect(connect.hasPrefix("HTTP/1.1 405"))
            #expect(connect.contains("Allow: GET, HEAD"))
            #expect(closed && seconds < 4, "CONNECT left the connection open")
            let bigHeader = try await exchange("GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 100_000))\r\n\r\n")
            #expect(bigHeader.0.hasPrefix("HTTP/1.1 431"))
            #expect(bigHeader.0.contains(#"{"errors":[{"code":"#))
            let bigLine = try await exchange("GET /v2/\(String(repeating: "a", count: 100_000)) HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(bigLine.0.hasPrefix("HTTP/1.1 4"))
            #expect(bigLine.0.contains(#"{"errors":[{"code":"#))
            let garbage = try await exchange("\u{01}\u{02}NOT HTTP AT ALL\r\n\r\n")
            #expect(garbage.0.hasPrefix("HTTP/1.1 400"))
            #expect(garbage.0.contains(#"{"errors":[{"code":"#))
            #expect(try await fetch("\(strata.url)/v2/").status == 200)
        }

        /// Item 9: a client must send its request head in time and may idle only so
        /// long; past the connection cap new connections are closed, the admin port
        /// still answers, and the port recovers once clients leave.
        @Test func headerAndIdleTimeoutsAndTheConnectionCap() async throws {
            let strata = try await StrataInstance.start(canonical: nil) { config in
                config.limits.headerTimeout = 0.5
                config.limits.idleTimeout = 0.5
                config.limits.maxConnections = 5
            }
            defer { Task { await strata.stop() } }
            let port = strata.port
            func timed(_ text: String) async throws -> (RawTCP.Result, Double) {
                let start = ContinuousClock.now
                let result = try await Task.detached { try RawTCP.exchange(port: port, send: Array(text.utf8), timeout: 8) }.value
                return (result, (ContinuousClock.now - start).inSeconds)
            }
            // Silent, and a head that never ends: closed by the header timeout.
            for text in ["", "GET /v2/ HTTP/1.1\r\nHost: x\r\n"] {
                let (result, seconds) = try await timed(text)
                #expect(result.closedByPeer && seconds < 5, "\(text.debugDescription) held for \(seconds) s")
                #expect(result.bytes.isEmpty)
            }
            // One answered request, then idle: closed by the idle timeout.
            let (idle, idleSeconds) = try await timed("GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(String(decoding: idle.bytes, as: UTF8.self).hasPrefix("HTTP/1.1 200"))
            #expect(idle.closedByPeer && idleSeconds < 5)

            // Fill the cap with silent connections (within the header timeout).
            let strataSlow = try await StrataInstance.start(canonical: nil) { config in
                config.limits.maxConnections = 5
            }
            defer { Task { await strataSlow.stop() } }
            let held = try (0..<5).map { _ in try RawTCP.Connection(port: strataSlow.port) }
            await strataSlow.server.connections.waitUntil { $0 == 5 }
            #expect(strataSlow.server.connections.open == 5)
            let slowPort = strataSlow.port
            let refused = try await Task.detached { try RawTCP.exchange(port: slowPort, send: Array("GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n".utf8), timeout: 5) }.value
            #expect(refused.closedByPeer && refused.bytes.isEmpty)
            #expect(try await fetch("\(strataSlow.adminURL)/healthz").status == 200)
            for connection in held { connection.close() }
            await strataSlow.server.connections.waitUntil { $0 == 0 }
            #expect(try await fetch("\(strataSlow.url)/v2/").status == 200)
        }
    
        /// Item 10: a tier that drips is abandoned once it falls below the minimum rate,
        /// and the fill resumes on the next tier with `Range`.
        @Test func drippingTierIsAbandonedForTheNext() async throws {
            let bytes = ImageFixture.randomBytes(256 << 10)
            let digest = ContentHasher.digest(of: bytes)
            let drip = FaultyRegistry(blobs: [digest: bytes], fault: .drip(bytes: 100, interval: .seconds(1)))
            try await drip.start()
            defer { drip.stop() }
            let good = FaultyRegistry(blobs: [digest: bytes], fault: .none)
            try await good.start()
            defer { good.stop() }
            let strata = try await StrataInstance.start(canonical: good.url) { config in
                config.tiers = [.init(name: "drip", url: drip.url)]
                config.limits.minUpstreamRate = 10 << 10
                config.limits.upstreamRateWindow = 0.5
            }
            defer { Task { await strata.stop() } }
            let start = ContinuousClock.now
            let answer = try await fetch("\(strata.url)/v2/library/slow/blobs/\(digest)")
            let seconds = (ContinuousClock.now - start).inSeconds
            #expect(answer.status == 200)
            #expect(answer.body == bytes)
            #expect(seconds < 10, "the drip held the fill for \(seconds) s")
            let ledger = String(decoding: try await fetch("\(strata.adminURL)/api/requests").body, as: UTF8.self)
            #expect(ledger.contains(#""outcome":"too_slow""#))
            #expect(strata.server.disk.blobs.lookup(digest) != nil)
        }
    
        /// Item 11: the cache directory deleted under a running Strata is rebuilt, cached
        /// and new pulls are served again from upstream without a restart, and no answer
        /// names a file.
        @Test func vanishedCacheDirectoryIsRebuilt() async throws {
            let blobs = (0..<3).map { ImageFixture.randomBytes(300_000 + $0) }
            let (upstream, strata, digests) = try await Self.strataWithBlobs(blobs)
            defer { upstream.stop(); Task { await strata.stop() } }
            for (digest, bytes) in zip(digests.prefix(2), blobs) {
                #expect(try await fetch("\(strata.url)/v2/library/gone/blobs/\(digest)").body == bytes)
            }
            try FileManager.default.removeItem(atPath: strata.cacheDirectory)
            for round in 0..<2 {
                for (digest, bytes) in zip(digests, blobs) {
                    let answer = try await fetch("\(strata.url)/v2/library/gone/blobs/\(digest)")
                    #expect(answer.status == 200, "round \(round), \(digest)")
                    #expect(answer.body == bytes)
                    #expect(!String(decoding: answer.body, as: UTF8.self).contains(strata.cacheDirectory))
                }
            }
            #expect(FileManager.default.fileExists(atPath: "\(strata.cacheDirectory)/index.sqlite"))
            for digest in digests {
                #expect(strata.server.disk.blobs.lookup(digest) != nil)
                #expect(try strata.server.disk.index.blob(digest) != nil)
            }
            #expect(try await fetch("\(strata.adminURL)/readyz").status == 200)
        }
    
        /// What held before this hardening, kept: a smuggling attempt (both
        /// `Content-Length` and `Transfer-Encoding`) gets one `400` with the error body
        /// and a closed connection, never a second, hidden request.
        @Test func smugglingAttemptGetsOneErrorAndAClose() async throws {
            let strata = try await StrataInstance.start(canonical: nil)
            defer { Task { await strata.stop() } }
            let port = strata.port
            let attack = "GET /v2/ HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /v2/_catalog HTTP/1.1\r\nHost: x\r\n\r\n"
            let result = try await Task.detached { try RawTCP.exchange(port: port, send: Array(attack.utf8)) }.value
            let text = String(decoding: result.bytes, as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 400"))
            #expect(text.components(separatedBy: "HTTP/1.1 ").count == 2, "more than one answer: \(text)")
            #expect(result.closedByPeer)
        }

        /// Slowloris: 500 connections that never finish their heads are all closed by the
        /// header timeout, and a normal client is served meanwhile.
        @Test func slowlorisIsTimedOutWhileOthersAreServed() async throws {
            let bytes = ImageFixture.randomBytes(50_000)
            let (upstream, strata, digest) = try await Self.strataWithBlob(bytes) {
                $0.limits.headerTimeout = 1
                $0.limits.idleTimeout = 1  // the served client's keep-alive connection goes too
            }
            defer { upstream.stop(); Task { await strata.stop() } }
            let slow = try (0..<500).map { _ in try RawTCP.Connection(port: strata.port) }
            for connection in slow { connection.send(Array("GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Slow: ".utf8)) }
            #expect(try await fetch("\(strata.url)/v2/library/loris/blobs/\(digest)").body == bytes)
            // Each one is closed by Strata (read returns 0), not by the client.
            let closed = try await Task.detached { slow.map { $0.readUntilClosed().closedByPeer } }.value
            #expect(closed.allSatisfy { $0 })
            await strata.server.connections.waitUntil { $0 == 0 }
            #expect(strata.server.connections.open == 0)
        }

        /// A manifest larger than `limits.max_manifest_size` is refused unread past the
        /// limit, and nothing is stored.
        @Test func oversizedManifestIsRefused() async throws {
            let padding = String(repeating: " ", count: 5 << 20)
            let big = Array(#"{"schemaVersion":2,"manifests":[]\#(padding)}"#.utf8)
            let digest = ContentHasher.digest(of: big)
            let upstream = FaultyRegistry(manifests: [digest.description: (MediaType.ociIndex.value, big)], fault: .none)
            try await upstream.start()
            defer { upstream.stop() }
            let strata = try await StrataInstance.start(canonical: upstream.url)
            defer { Task { await strata.stop() } }
            let answer = try await fetch("\(strata.url)/v2/library/big/manifests/\(digest)", headers: [("Accept", MediaType.ociIndex.value)])
            #expect(answer.status == 503)
            #expect(String(decoding: answer.body, as: UTF8.self).contains("invalid_response"))
            #expect(strata.server.disk.blobs.lookup(digest) == nil)
        }
    }
}
