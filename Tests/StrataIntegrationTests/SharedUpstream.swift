import AsyncHTTPClient
import Foundation
import StrataCore
import StrataTesting
import Testing

/// Integration tests run one at a time: they start real servers and share 2 cores.
@Suite(.serialized) enum Integration {}

/// The test images, as pushed to the upstream registry.
struct TestImages: Sendable {
    /// OCI manifest, two layers: one random (stored raw), one text (stored compressed).
    let small: ImageFixture
    /// OCI index over linux/amd64 and linux/arm64.
    let multi: ImageFixture
    /// Docker schema2 manifest, gzip layer.
    let docker: ImageFixture
    /// Docker manifest list.
    let dockerList: ImageFixture
    /// OCI manifest with a 100 MiB layer.
    let big: ImageFixture

    static let repositories = ["library/small", "library/multi", "library/docker-v2s2", "library/docker-list", "library/big"]

    var all: [(String, ImageFixture)] {
        [("library/small", small), ("library/multi", multi), ("library/docker-v2s2", docker),
         ("library/docker-list", dockerList), ("library/big", big)]
    }

    static func make(bigLayer: Int = 100 << 20) throws -> TestImages {
        TestImages(
            small: try .image(layers: [.random(300 << 10), .text(2 << 20)], label: "small"),
            multi: try .index(platforms: [("linux", "amd64"), ("linux", "arm64")], label: "multi"),
            docker: try .image(format: .docker, layers: [.gzipRandom(200 << 10)], label: "docker"),
            dockerList: try .index(format: .docker, platforms: [("linux", "amd64"), ("linux", "arm64")], label: "dlist"),
            big: try .image(layers: [.random(bigLayer)], label: "big"))
    }

    func push(to registry: String, only: [String]? = nil) async throws {
        let pusher = RegistryPusher(baseURL: registry)
        for (repository, image) in all where only?.contains(repository) ?? true {
            try await pusher.push(image, repository: repository, tags: ["1", "latest"])
        }
    }
}

/// One plain registry with every test image, started once for the whole run.
actor SharedUpstream {
    static let shared = SharedUpstream()

    private var ready: (DistributionRegistry, TestImages)?

    func get() async throws -> (registry: DistributionRegistry, images: TestImages) {
        if let ready { return ready }
        let registry = DistributionRegistry()
        try await registry.start()
        let images = try TestImages.make()
        try await images.push(to: registry.url)
        ready = (registry, images)
        return (registry, images)
    }
}
