import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import StrataConfig
import StrataAdminModel

/// `strata prefetch`: pull images through the tiers into a running Strata's cache.
struct Prefetch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pull images through the tiers into the cache of a running Strata.",
        discussion: "Exit status: 0 every image was prefetched, 1 some failed or Strata could not be reached.")

    @OptionGroup var options: AdminOptions
    @Option(name: .long, help: "Only these platforms, comma-separated (linux/amd64,linux/arm64). Default: all.")
    var platform: String?
    @Flag(name: .long, help: "Print the progress as JSON lines.") var json = false
    @Flag(name: .customLong("with-referrers"), help: "Also prefetch what the OCI referrers API lists for each image (signatures, SBOMs, attestations).")
    var withReferrers = false
    @Option(name: .long, help: "A file of images, one per line (# starts a comment).") var file: String?
    @Argument(help: "Images: alpine:3.20, library/nginx, ghcr.io/org/app:1, repo@sha256:...") var images: [String] = []

    /// The images named on the command line, then those in `--file`.
    func allImages() throws -> [String] {
        var all = images
        if let file {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw CommandFailure("cannot read \(file): \(UnreadableFile.reason(file))")
            }
            for line in text.split(whereSeparator: \.isNewline) {
                let entry = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
                if !entry.isEmpty { all.append(entry) }
            }
        }
        guard !all.isEmpty else { throw CommandFailure("name at least one image, or a file of them with --file") }
        return all
    }

    func run() async throws {
        try await runReporting {
            struct Ask: Encodable { let images: [String]; let platforms: [String]?; let referrers: Bool }
            let platforms = platform.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
            let client = AdminClient(options: options)
            var request = HTTPClientRequest(url: client.url("/api/prefetch"))
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(Ask(images: try allImages(), platforms: platforms, referrers: withReferrers))))
            if let token = try client.token() { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
            let response: HTTPClientResponse
            do {
                response = try await adminHTTPClient.execute(request, timeout: .hours(24))
            } catch {
                throw CommandFailure("cannot reach the admin server at \(options.url): \(error)")
            }
            guard response.status == .ok else {
                let body = try? await response.body.collect(upTo: 1 << 20)
                throw CommandFailure("prefetch refused (\(response.status.code)): \(body.map { String(buffer: $0) } ?? "")")
            }
            var pending = [UInt8]()
            var failed = 0
            // Layers are numbered per image.
            var layers: [String: Int] = [:]
            let decoder = JSONDecoder()
            let start = Date()
            for try await chunk in response.body {
                pending.append(contentsOf: chunk.readableBytesView)
                while let newline = pending.firstIndex(of: 0x0a) {
                    let line = Array(pending[..<newline])
                    pending.removeFirst(newline + 1)
                    if json { Output.write(String(decoding: line, as: UTF8.self)); continue }
                    if let event = try? decoder.decode(PrefetchEvent.self, from: Data(line)) {
                        switch event.kind {
                        case .manifest:
                            Output.write("\(event.image): manifest \(Format.shortDigest(event.digest ?? ""))\(event.cached == true ? " (cached)" : "")")
                        case .config:
                            Output.write("\(event.image): config \(Format.shortDigest(event.digest ?? "")) \(Format.bytes(event.bytes ?? 0))\(event.cached == true ? " (cached)" : "")")
                        case .blob:
                            layers[event.image, default: 0] += 1
                            Output.write("\(event.image): layer \(event.layer ?? layers[event.image] ?? 0) \(Format.shortDigest(event.digest ?? "")) \(Format.bytes(event.bytes ?? 0))\(event.cached == true ? " (cached)" : "")")
                        case .progress:
                            Output.write("\(event.image): layer \(event.layer ?? (layers[event.image] ?? 0) + 1) \(Format.shortDigest(event.digest ?? "")) \(Format.bytes(event.bytes ?? 0)) of \(Format.bytes(event.total ?? 0))")
                        case .done:
                            Output.write("\(event.image): done")
                        case .failed:
                            failed += 1
                            Output.write("\(event.image): FAILED: \(event.message ?? "")")
                        case .evicted:
                            Output.write("\(event.image): WARNING: \(event.message ?? "evicted again") (\(Format.bytes(event.bytes ?? 0))): "
                                         + "raise cache.max_size or prefetch less")
                        }
                    } else if let summary = try? decoder.decode([String: PrefetchSummary].self, from: Data(line))["summary"] {
                        let seconds = Date().timeIntervalSince(start)
                        Output.write("prefetched \(summary.images) images (\(summary.failed) failed): \(summary.manifests) manifests, "
                              + "\(summary.blobs) blobs, \(summary.cachedBlobs) already cached, \(Format.bytes(summary.fetchedBytes)) fetched "
                              + "in \(String(format: "%.1f", seconds)) s"
                              + (summary.evicted > 0 ? "; \(summary.evicted) evicted again by the cache bound" : ""))
                        failed = summary.failed
                    }
                }
            }
            if failed > 0 { throw ExitCode(1) }
        }
    }
}
