import AsyncHTTPClient
import Foundation
import StrataCore
import StrataTesting
import StrataServer
import Testing

extension Integration {
    /// Registries that redirect blobs to a CDN's signed URLs (refusing `HEAD`, expiring,
    /// breaking part-way), played by ``FakeBlobHost`` behind ``FaultyRegistry``.
    @Suite struct BlobHost {
        static func setUp(_ behaviour: FakeBlobHost.Behaviour, size: Int = 1 << 20, configure: @escaping (inout StrataConfiguration) -> Void = { _ in })
            async throws -> (cdn: FakeBlobHost, registry: FaultyRegistry, strata: StrataInstance, bytes: [UInt8], digest: Digest) {
            let bytes = ImageFixture.randomBytes(size)
            let digest = ContentHasher.digest(of: bytes)
            let cdn = FakeBlobHost(blobs: [digest: bytes], behaviour: behaviour)
            try await cdn.start()
            let registry = FaultyRegistry(blobs: [digest: bytes], fault: .redirect(to: cdn.url))
            try await registry.start()
            let strata = try await StrataInstance.start(canonical: registry.url, configure: configure)
            return (cdn, registry, strata, bytes, digest)
        }

        @Test func aHeadOfAColdBlobIsAnsweredWithoutSendingAHeadToTheBlobHost() async throws {
            let (cdn, registry, strata, bytes, digest) = try await Self.setUp(.init(rejectHead: true))
            defer { Task { await strata.stop(); await registry.shutdown(); await cdn.shutdown() } }
            let head = try await fetch("\(strata.url)/v2/library/x/blobs/\(digest)", method: .HEAD)
            #expect(head.status == 200)
            #expect(head.headers.first(name: "Content-Length") == String(bytes.count))
            #expect(cdn.requests == [.init(method: "GET", range: "bytes=0-0")])
            let get = try await fetch("\(strata.url)/v2/library/x/blobs/\(digest)")
            #expect(get.status == 200 && get.body == bytes)
            let tiers = String(decoding: try await fetch("\(strata.adminURL)/api/tiers").body, as: UTF8.self)
            #expect(tiers.contains(#""misconfigured":false"#) && !tiers.contains(#""misconfigured":true"#))
        }

        @Test func aBlobHostThatRefusesIsNotACredentialsProblem() async throws {
            let (cdn, registry, strata, _, digest) = try await Self.setUp(.init(rejectHead: true, getStatus: 403))
            defer { Task { await strata.stop(); await registry.shutdown(); await cdn.shutdown() } }
            let get = try await fetch("\(strata.url)/v2/library/x/blobs/\(digest)")
            #expect(get.status == 503)
            #expect(RegistryAPI.code(get.body) == "UNAVAILABLE")
            let ledger = String(decoding: try await fetch("\(strata.adminURL)/api/requests").body, as: UTF8.self)
            #expect(ledger.contains("the blob host the tier redirected to answered 403"))
            let tiers = String(decoding: try await fetch("\(strata.adminURL)/api/tiers").body, as: UTF8.self)
            #expect(!tiers.contains(#""misconfigured":true"#))
        }

        /// A large cold blob from a CDN that limits each connection: Strata fetches it in
        /// parallel ranges, and clients asking in parallel ranges (as containerd does) get
        /// their parts as the front reaches them.
        @Test func aLargeColdBlobIsFetchedInParallelRangesFromAThrottledHost() async throws {
            let size = 32 << 20
            let (cdn, registry, strata, bytes, digest) = try await Self.setUp(.init(bytesPerSecond: 16 << 20), size: size) { config in
                config.limits.rangedFillThreshold = 8 << 20
                config.limits.rangedFillConnections = 8
            }
            defer { Task { await strata.stop(); await registry.shutdown(); await cdn.shutdown() } }
            let part = size / 8
            let answers = try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
                for i in 0..<8 {
                    group.addTask {
                        let range = "bytes=\(i * part)-\((i + 1) * part - 1)"
                        return (i, try await fetch("\(strata.url)/v2/library/x/blobs/\(digest)", headers: [("Range", range)]).body)
                    }
                }
                var out = [Int: [UInt8]]()
                for try await (i, body) in group { out[i] = body }
                return out
            }
            for i in 0..<8 { #expect(answers[i] == Array(bytes[(i * part)..<((i + 1) * part)]), "part \(i)") }
            let ranged = cdn.requests.compactMap(\.range).filter { $0.hasPrefix("bytes=") && !$0.hasSuffix("-") }
            // The first part came on the GET that told the size (judged slow: 16 MiB/s); the
            // rest as ranges of at least 4 MiB.
            #expect((5...8).contains(ranged.count), "\(cdn.requests)")
            #expect(cdn.mostConcurrent >= 4)
            let stored = try await fetch("\(strata.url)/v2/library/x/blobs/\(digest)")
            #expect(stored.headers.first(name: "X-Strata-Tier") == "local" && stored.body == bytes)
        }

        @Test func aBodyThatBreaksIsResumedOnTheSameTierWithAFreshRedirect() async throws {
            let size = 4 << 20
            let (cdn, registry, strata, bytes, digest) = try await Self.setUp(.init(drops: (count: 2, after: 1 << 20)), size: size)
            defer { Task { await strata.stop(); await registry.shutdown(); await cdn.shutdown() } }
            let get = try await fetch("\(strata.url)/v2/library/x/blobs/\(digest)")
            #expect(get.status == 200 && get.body.count == size && get.body == bytes)
            // Each try went through the registry again (a fresh redirect), from where the last broke.
            #expect(cdn.requests.map(\.range) == [nil, "bytes=1048576-", "bytes=2097152-"])
            let again = try await fetch("\(strata.url)/v2/library/x/blobs/\(digest)")
            #expect(again.headers.first(name: "X-Strata-Tier") == "local" && again.body == bytes)
        }
    }
}
