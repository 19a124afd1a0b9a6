import Foundation
import StrataCore
import StrataTesting
import Testing

extension Integration.Lifecycle {
    /// A fill that cannot be written (a 4 MiB tmpfs as the cache dir) still streams
    /// every byte to its clients, stores nothing, and says why.
    @Test func fullDiskPassesBlobsThroughUnstored() async throws {
        try #require(getuid() == 0, "mounting a small tmpfs needs root")
        let mountPoint = makeTempDirectory("full-disk")
        let mount = try runCommand(which("mount") ?? "/bin/mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", mountPoint])
        try #require(mount.status == 0, "mount tmpfs: \(mount.output)")
        defer { _ = try? runCommand(which("umount") ?? "/bin/umount", ["-l", mountPoint]) }

        let registry = DistributionRegistry()
        try await registry.start()
        defer { registry.stop() }
        let image = try ImageFixture.image(layers: [.random(12 << 20)], label: "full-disk")
        try await RegistryPusher(baseURL: registry.url).push(image, repository: "library/huge", tags: ["1"])
        let (digest, bytes) = try #require(image.blobs.first { $0.value.count > 10 << 20 })

        let strata = try await StrataInstance.start(canonical: registry.url, cacheDirectory: mountPoint + "/cache")
        defer { Task { await strata.stop() } }
        let url = "\(strata.url)/v2/library/huge/blobs/\(digest)"
        // Three clients at once share the pass-through.
        let bodies = try await withThrowingTaskGroup(of: [UInt8].self) { group in
            for _ in 0..<3 { group.addTask { try await fetch(url).body } }
            return try await group.reduce(into: [[UInt8]]()) { $0.append($1) }
        }
        #expect(bodies.count == 3)
        #expect(bodies.allSatisfy { $0 == bytes })
        let store = strata.server.disk.blobs
        #expect(store.lookup(digest) == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.layout.tmpDirectory).filter { !$0.hasPrefix(".") }.isEmpty)
        // Upstream was asked once for the three clients.
        #expect((try await registry.settledBlobGets())[digest.description]?.count == 1)

        struct Requests: Decodable { struct R: Decodable { let reference: String?; let error: String?; let status: Int }; let requests: [R] }
        let ledger = try JSONDecoder().decode(Requests.self, from: Data(try await fetch("\(strata.adminURL)/api/requests").body)).requests
        let blobRecords = ledger.filter { $0.reference == digest.description }
        #expect(blobRecords.count == 3)
        #expect(blobRecords.allSatisfy { $0.status == 200 && $0.error == "not cached: disk full" })

        // Later requests pass through again, still whole.
        #expect(try await fetch(url).body == bytes)
    }
}
