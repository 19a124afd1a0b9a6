import Foundation
import StrataCore
import StrataServer
import StrataTesting
import Testing

extension Integration {
    /// Replicas of a central mirror on one bucket of a real Ceph RGW (`store.s3`): what
    /// one replica fetched, another with an empty disk serves with upstream gone.
    @Suite struct SharedStore {
        static func replica(canonical: String, bucket: String) async throws -> StrataInstance {
            let endpoint = try await ObjectStoreFixture.shared.endpoint()
            return try await StrataInstance.start(canonical: canonical, configure: { config in
                var store = StrataConfiguration.SharedStore(endpoint: endpoint.url, bucket: bucket)
                store.region = endpoint.region
                store.prefix = "central"
                store.accessKey = endpoint.accessKey
                store.secretKey = endpoint.secretKey
                config.sharedStore = store
            })
        }

        @Test func aFreshReplicaServesFromTheSharedStoreWithUpstreamGone() async throws {
            let registry = DistributionRegistry()
            try await registry.start()
            defer { registry.stop() }
            let image = try ImageFixture.image(layers: [.random(700_000), .random(6 << 20)], label: "shared")
            try await RegistryPusher(baseURL: registry.url).push(image, repository: "library/shared", tags: ["1"])
            let bucket = ObjectStoreFixture.bucketName("replicas")

            let first = try await Self.replica(canonical: registry.url, bucket: bucket)
            defer { Task { await first.stop() } }
            try Skopeo.copy("\(first.hostPort)/library/shared:1")
            // Each blob came from upstream once, through the shared store.
            let gets = try await registry.settledBlobGets()
            for digest in image.blobs.keys { #expect(gets[digest.description]?.count == 1, "\(digest)") }
            let (layer, bytes) = try #require(image.blobs.first { $0.value.count > 1 << 20 })
            let again = try await fetch("\(first.url)/v2/library/shared/blobs/\(layer)")
            #expect(again.headers.first(name: "X-Strata-Tier") == "cache")

            registry.stop()
            let second = try await Self.replica(canonical: registry.url, bucket: bucket)
            defer { Task { await second.stop() } }
            let fromShared = try await fetch("\(second.url)/v2/library/shared/blobs/\(layer)")
            #expect(fromShared.status == 200 && fromShared.body == bytes)
            #expect(fromShared.headers.first(name: "X-Strata-Tier") == "shared")
            // The whole image, tag included, with every upstream stopped (skopeo checks each digest).
            try Skopeo.copy("\(second.hostPort)/library/shared:1")
        }
    }
}
