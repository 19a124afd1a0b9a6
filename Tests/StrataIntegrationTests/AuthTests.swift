import AsyncHTTPClient
import Foundation
import StrataCore
import StrataTesting
import Testing

extension Integration {
    @Suite struct Auth {
        /// A private repository behind the token server: refused without credentials
        /// (403, not a misleading 404), served with the credentials from the config.
        @Test func privateRepositoryNeedsConfiguredCredentials() async throws {
            let tokens = TokenServer(users: ["alice": "wonderland"], privatePrefixes: ["private/"])
            try await tokens.start()
            defer { tokens.stop() }
            let registry = DistributionRegistry(mode: tokens.registryMode)
            try await registry.start()
            defer { registry.stop() }
            let image = try ImageFixture.image(layers: [.random(50_000)], label: "private")
            let token = try await tokens.token(user: "alice", password: "wonderland", scope: "repository:private/app:pull,push")
            try await RegistryPusher(baseURL: registry.url, authorization: "Bearer \(token)").push(image, repository: "private/app", tags: ["1"])

            let anonymous = try await StrataInstance.start(canonical: registry.url)
            defer { Task { await anonymous.stop() } }
            let refused = try await fetch("\(anonymous.url)/v2/private/app/manifests/1", headers: [("Accept", MediaType.ociManifest.value)])
            #expect(refused.status == 403)
            #expect(RegistryAPI.code(refused.body) == "DENIED")

            let passwordFile = makeTempDirectory("secret") + "/password"
            try "wonderland\n".write(toFile: passwordFile, atomically: true, encoding: .utf8)
            let config = makeTempDirectory("auth-config") + "/strata.yml"
            try """
                credentials:
                  \(registry.hostPort):
                    username: alice
                    password_file: \(passwordFile)
                    realms: [\(tokens.realm)]
                """.write(toFile: config, atomically: true, encoding: .utf8)
            let parsed = try StrataConfigurationLoader.load(config)
            let authorized = try await StrataInstance.start(canonical: registry.url, configure: { $0.credentials = parsed.credentials })
            defer { Task { await authorized.stop() } }
            let copied = try Skopeo.contents(try Skopeo.copy("\(authorized.hostPort)/private/app:1"))
            #expect(copied["manifest.json"].map(Array.init) == image.manifest)
        }

        /// A 307 to another host (a CDN) is followed without the registry's `Authorization`.
        @Test func redirectsDoNotCarryAuthorizationToAnotherHost() async throws {
            let bytes = ImageFixture.randomBytes(200_000)
            let digest = ContentHasher.digest(of: bytes)
            let cdn = FaultyRegistry(blobs: [digest: bytes], fault: .none)
            try await cdn.start()
            defer { cdn.stop() }
            let origin = FaultyRegistry(blobs: [digest: bytes], fault: .redirect(to: cdn.url.replacingOccurrences(of: "127.0.0.1", with: "localhost")),
                                        requireBasic: ("bob", "builder"))
            try await origin.start()
            defer { origin.stop() }
            let strata = try await StrataInstance.start(canonical: origin.url, configure: {
                $0.credentials = ["127.0.0.1:\(origin.port)": .init(username: "bob", password: "builder")]
            })
            defer { Task { await strata.stop() } }
            let answer = try await fetch("\(strata.url)/v2/library/cdn/blobs/\(digest)")
            #expect(answer.status == 200)
            #expect(answer.body == bytes)
            #expect(origin.authorizations.contains { $0?.hasPrefix("Basic ") == true })
            #expect(!cdn.authorizations.isEmpty)
            #expect(cdn.authorizations.allSatisfy { $0 == nil })
        }
    }
}

import StrataServer

/// Reads a config file the way `strata serve --config` does.
enum StrataConfigurationLoader {
    static func load(_ path: String) throws -> StrataConfiguration {
        try StrataConfiguration.load(path: path)
    }
}
