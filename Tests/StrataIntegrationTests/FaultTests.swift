import AsyncHTTPClient
import Foundation
import StrataCore
import StrataTesting
import Testing

extension Integration {
    /// Faults a real registry won't produce, from the in-process fake upstream.
    @Suite struct UpstreamFaults {
        /// Bytes that don't match the digest: the client's response is cut off, not
        /// completed, and nothing is stored.
        @Test func wrongDigestIsCutOffAndNeverStored() async throws {
            let good = ImageFixture.randomBytes(3 << 20)
            let digest = ContentHasher.digest(of: good)
            let upstream = FaultyRegistry(blobs: [digest: good], fault: .wrongBytes)
            try await upstream.start()
            defer { upstream.stop() }
            let strata = try await StrataInstance.start(canonical: upstream.url)
            defer { Task { await strata.stop() } }
            let url = "\(strata.url)/v2/library/bad/blobs/\(digest)"

            for attempt in 1...2 {
                // The answer starts as 200 with the full length, so the only honest
                // ending is an aborted body: never a complete response.
                let outcome: Result<[UInt8], any Error>
                do { outcome = .success(try await fetch(url).body) } catch { outcome = .failure(error) }
                if case .success(let body) = outcome {
                    #expect(body.count < good.count, "attempt \(attempt): a complete body was delivered")
                    #expect(body != good)
                }
                let path = strata.server.disk.blobs.layout.blobDirectory(digest)
                #expect(!FileManager.default.fileExists(atPath: path), "attempt \(attempt): blob stored")
                #expect(strata.server.disk.blobs.lookup(digest) == nil)
            }
            // Nothing bad was remembered: each request went upstream again.
            #expect(upstream.requestCount >= 2)
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: strata.server.disk.blobs.layout.tmpDirectory)
            #expect(leftovers.isEmpty)
        }

        /// A body cut short by the only tier: the client is cut off, nothing is stored.
        @Test func truncatedBodyIsCutOffAndNeverStored() async throws {
            let good = ImageFixture.randomBytes(2 << 20)
            let digest = ContentHasher.digest(of: good)
            let upstream = FaultyRegistry(blobs: [digest: good], fault: .truncate(after: 1 << 20))
            try await upstream.start()
            defer { upstream.stop() }
            let strata = try await StrataInstance.start(canonical: upstream.url)
            defer { Task { await strata.stop() } }
            do {
                let body = try await fetch("\(strata.url)/v2/library/cut/blobs/\(digest)").body
                #expect(body.count < good.count)
            } catch {
                // An aborted response is the expected outcome: the connection cut, nothing else.
                #expect(isCutOff(error), "\(error)")
            }
            #expect(strata.server.disk.blobs.lookup(digest) == nil)
            #expect(!FileManager.default.fileExists(atPath: strata.server.disk.blobs.layout.blobDirectory(digest)))
        }
    }
}
