import AsyncHTTPClient
import Foundation
import StrataCore
import StrataServer
import StrataTesting
import Testing

extension Integration {
    /// What a new user met (issue "what a new user trips on"): each case failed before.
    @Suite struct NewUser {
        /// A registry of its own (these tests delete and count requests) holding `library/small:1`.
        static func registryWithSmall() async throws -> (DistributionRegistry, TestImages) {
            let registry = DistributionRegistry()
            try await registry.start()
            let images = try TestImages.make(bigLayer: 1 << 20)
            try await images.push(to: registry.url, only: ["library/small"])
            return (registry, images)
        }

        /// The docs' own check, `curl -I` with an index-only `Accept`, after `tag_ttl`:
        /// distribution answers such a request 404 for an OCI manifest, and that must not
        /// cost the cache its tag.
        @Test func theDocsIndexOnlyCheckKeepsTheCachedTag() async throws {
            let (registry, images) = try await Self.registryWithSmall()
            defer { registry.stop() }
            let clock = TestClock()
            let cache = makeTempDirectory("accept-cache")
            let strata = try await StrataInstance.start(canonical: registry.url, cacheDirectory: cache, tagTTL: 60, now: clock.closure)
            _ = try Skopeo.copy("\(strata.hostPort)/library/small:1")
            clock.advance(by: 120)
            let indexOnly = [("Accept", MediaType.ociIndex.value)]
            let head = try await fetch("\(strata.url)/v2/library/small/manifests/1", method: .HEAD, headers: indexOnly)
            #expect(head.status == 404, "an OCI manifest is not what an index-only client takes")
            // Upstream was asked as Strata asks, and said the tag is there.
            let heads = try await registry.settledRequests().filter { $0.method == "HEAD" && $0.path.hasPrefix("/v2/library/small/manifests/1") }
            #expect(heads.last?.status == 200, "\(heads)")
            // The tag stays: listed, served, exported.
            struct Listing: Decodable { struct Repo: Decodable { struct T: Decodable { let tag: String }; let tags: [T] }; let repositories: [Repo] }
            let listing = try JSONDecoder().decode(Listing.self, from: Data(try await fetch("\(strata.adminURL)/api/cache/library/small").body))
            #expect(listing.repositories.first?.tags.map(\.tag) == ["1"])
            let full = try await fetch("\(strata.url)/v2/library/small/manifests/1", headers: [("Accept", MediaType.ociManifest.value)])
            #expect(full.status == 200 && full.body == images.small.manifest)
            await strata.stop()
            // An air-gapped site on the same cache still has the image.
            let offline = try await StrataInstance.start(canonical: nil, cacheDirectory: cache, configure: { $0.cacheOnly = true })
            defer { Task { await offline.stop() } }
            let copied = try Skopeo.contents(try Skopeo.copy("\(offline.hostPort)/library/small:1"))
            #expect(copied["manifest.json"].map(Array.init) == images.small.manifest)
        }

        /// A tag deleted upstream leaves the cache but not the operator's reach:
        /// `strata ls --deleted` shows its digest, `strata restore-tag` puts it back.
        @Test func aDeletedTagIsListedAndRestoredFromTheCommandLine() async throws {
            let binary = try #require(Integration.CommandLine.binary)
            let (registry, images) = try await Self.registryWithSmall()
            defer { registry.stop() }
            let clock = TestClock()
            let strata = try await StrataInstance.start(canonical: registry.url, tagTTL: 60, now: clock.closure)
            defer { Task { await strata.stop() } }
            _ = try Skopeo.copy("\(strata.hostPort)/library/small:1")
            // Deleting the manifest upstream takes its tags with it.
            let deleted = try await fetch("\(registry.url)/v2/library/small/manifests/\(images.small.digest)", method: .DELETE)
            #expect(deleted.status == 202)
            clock.advance(by: 120)
            let gone = try await fetch("\(strata.url)/v2/library/small/manifests/1", headers: [("Accept", MediaType.ociManifest.value)])
            #expect(gone.status == 404)
            let listed = try runCommand(binary, ["ls", "--deleted", "--admin", strata.adminURL])
            #expect(listed.status == 0)
            #expect(listed.output.contains("docker.io/library/small  1    \(images.small.digest)"), "\(listed.output)")
            let restored = try runCommand(binary, ["restore-tag", "small:1", "--admin", strata.adminURL])
            #expect(restored.status == 0 && restored.output == "restored docker.io/library/small:1 -> \(images.small.digest)\n", "\(restored.output)")
            let back = try await fetch("\(strata.url)/v2/library/small/manifests/1", headers: [("Accept", MediaType.ociManifest.value)])
            #expect(back.status == 200 && back.body == images.small.manifest && back.headers.first(name: "X-Strata-Tier") == "local")
            let again = try runCommand(binary, ["restore-tag", "small:1", "--admin", strata.adminURL])
            #expect(again.status == 1)
            #expect(again.output == "strata: docker.io/library/small:1 is not among the deleted tags (strata ls --deleted lists them)\n", "\(again.output)")
        }

        /// Commands that write to a pipe whose reader left end quietly, with status 0.
        @Test func aClosedPipeEndsACommandQuietly() async throws {
            let binary = try #require(Integration.CommandLine.binary)
            let strata = try await StrataInstance.start(canonical: "http://127.0.0.1:9")
            defer { Task { await strata.stop() } }
            // More than a pipe holds (64 KiB), so the writer meets the closed pipe.
            for _ in 0..<600 { _ = try await fetch("\(strata.url)/v2/") }
            let (status, output) = try runCommand("/bin/bash", ["-o", "pipefail", "-c",
                "'\(binary)' requests --admin \(strata.adminURL) --limit 600 | head -n 1 >/dev/null; echo \"status=$?\""])
            #expect(output == "status=0\n", "\(output)")
        }

        /// The admin address comes from `STRATA_ADMIN` or the server's config; errors say
        /// what is wrong in a person's words.
        @Test func theAdminCommandsFindTheServerAndSayWhatIsWrong() async throws {
            let binary = try #require(Integration.CommandLine.binary)
            let strata = try await StrataInstance.start(canonical: "http://127.0.0.1:9")
            defer { Task { await strata.stop() } }
            var environment = ProcessInfo.processInfo.environment
            environment["STRATA_ADMIN"] = strata.adminURL
            let status = try runCommand(binary, ["status"], environment: environment)
            #expect(status.status == 0 && status.output.contains("at \(strata.adminURL)"), "\(status.output)")
            let dir = makeTempDirectory("admin-config")
            try "admin_listen: 0.0.0.0:\(strata.adminPort)\n".write(toFile: "\(dir)/strata.yml", atomically: true, encoding: .utf8)
            environment["STRATA_ADMIN"] = nil
            let viaConfig = try runCommand(binary, ["ls", "--config", "\(dir)/strata.yml"], environment: environment)
            #expect(viaConfig.status == 0 && viaConfig.output.hasPrefix("REPOSITORY"), "\(viaConfig.output)")
            // Nobody listening: said so, brackets balanced.
            let refused = try runCommand(binary, ["status", "--admin", "127.0.0.1:9"], environment: environment)
            #expect(refused.status == 1)
            #expect(refused.output == "strata: cannot reach the admin server at http://127.0.0.1:9: connection refused (is strata serve running, with its admin port there?)\n",
                    "\(refused.output)")
            // A tier no request can have.
            let bogus = try runCommand(binary, ["requests", "--tier", "bogus", "--admin", strata.adminURL], environment: environment)
            #expect(bogus.status == 1)
            #expect(bogus.output == "strata: unknown tier bogus (use one of: local, shared, canonical, stale, none)\n", "\(bogus.output)")
            // JSON for scripts keeps its slashes.
            _ = try await fetch("\(strata.url)/v2/library/a/manifests/1")
            let json = try runCommand(binary, ["requests", "--json", "--admin", strata.adminURL], environment: environment)
            #expect(json.output.contains("/v2/library/a/manifests/1") && !json.output.contains("\\/"), "\(json.output)")
            let level = try runCommand(binary, ["serve", "--log-level", "loud", "--listen", "127.0.0.1:0", "--admin-listen", "off",
                                                "--canonical", "http://127.0.0.1:9", "--cache-dir", "\(dir)/cache"])
            #expect(level.status == 1)
            #expect(level.output == "strata: unknown log level loud (use one of: trace, debug, info, notice, warning, error, critical)\n", "\(level.output)")
        }

        /// An offline command pointed at a directory without a cache refuses it rather
        /// than creating an empty cache there and blaming the image.
        @Test func exportRefusesADirectoryWithoutACache() throws {
            let binary = try #require(Integration.CommandLine.binary)
            let dir = makeTempDirectory("typo")
            let typo = "\(dir)/strata-cahce"
            let missing = try runCommand(binary, ["export", "--cache-dir", typo, "-o", "\(dir)/out.tar", "alpine:3.20"])
            #expect(missing.status == 1 && missing.output == "strata: \(typo) does not exist\n", "\(missing.output)")
            #expect(!FileManager.default.fileExists(atPath: typo))
            try FileManager.default.createDirectory(atPath: "\(dir)/other", withIntermediateDirectories: true)
            try "x".write(toFile: "\(dir)/other/notes.txt", atomically: true, encoding: .utf8)
            let other = try runCommand(binary, ["export", "--cache-dir", "\(dir)/other", "-o", "\(dir)/out.tar", "alpine:3.20"])
            #expect(other.status == 1 && other.output == "strata: \(dir)/other holds no Strata cache\n", "\(other.output)")
            #expect(!FileManager.default.fileExists(atPath: "\(dir)/other/blobs"))
            let imported = try runCommand(binary, ["import", "--cache-dir", "\(dir)/other", "\(dir)/none.tar"])
            #expect(imported.status == 1 && imported.output == "strata: \(dir)/other holds no Strata cache\n", "\(imported.output)")
        }

        /// Finding 11 of the second hardening round: an upstream's index named a platform
        /// with terminal escapes, and `strata ls` printed them raw (a title change, a
        /// cleared screen). Every string from outside is printed escaped.
        @Test func terminalEscapesFromAnUpstreamArePrintedNotObeyed() async throws {
            let binary = try #require(Integration.CommandLine.binary)
            let child = try ImageFixture.image(layers: [.random(1000)], label: "esc")
            let hostile = "linux\u{1b}]0;pwned\u{07}\u{1b}[2J"
            let index = Array(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"\#(child.mediaType)","digest":"\#(child.digest)","size":\#(child.manifest.count),"platform":{"architecture":"amd64","os":"linux\u001b]0;pwned\u0007\u001b[2J"}}]}"#.utf8)
            let upstream = FaultyRegistry(blobs: child.blobs, manifests: [
                "1": (MediaType.ociIndex.value, index),
                ContentHasher.digest(of: index).description: (MediaType.ociIndex.value, index),
                child.digest.description: (child.mediaType, child.manifest),
            ], fault: .none)
            try await upstream.start()
            defer { upstream.stop() }
            let strata = try await StrataInstance.start(canonical: upstream.url)
            defer { Task { await strata.stop() } }
            let byTag = try await fetch("\(strata.url)/v2/library/esc/manifests/1")
            #expect(byTag.status == 200, "\(String(decoding: byTag.body, as: UTF8.self))")
            #expect(try await fetch("\(strata.url)/v2/library/esc/manifests/\(child.digest)").status == 200)
            let listed = try runCommand(binary, ["ls", "library/esc", "--admin", strata.adminURL])
            #expect(listed.status == 0)
            #expect(!listed.output.unicodeScalars.contains { $0.value == 0x1b || $0.value == 0x07 }, "\(listed.output.debugDescription)")
            #expect(listed.output.contains(PrintableText.make(hostile) + "/amd64"), "\(listed.output)")
        }
    }
}
