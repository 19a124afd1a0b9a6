import ArgumentParser
import Foundation
import StrataServer

/// `strata verify`: re-hash the cache, quarantine what does not match.
struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-hash every cached blob; move mismatches to quarantine/ and out of the index.",
        discussion: "Exit status: 0 all blobs match, 2 some were quarantined, 1 the cache could not be read.")

    @OptionGroup var cache: CacheOptions

    func run() async throws {
        let directory: String
        do {
            directory = try cache.directory()
        } catch {
            exitWithError("\(error)")
        }
        let verifier: CacheVerifier
        do {
            verifier = try CacheVerifier(cacheDirectory: directory)
        } catch {
            exitWithError("cannot open the cache in \(directory): \(error)")
        }
        let interactive = isatty(STDERR_FILENO) == 1
        let start = Date()
        let report: CacheVerifier.Report
        do {
            report = try await verifier.run { done, total, bytes in
                guard interactive else { return }
                let width = 30
                let filled = total == 0 ? width : done * width / total
                let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
                FileHandle.standardError.write(Data("\r[\(bar)] \(done)/\(total) blobs, \(Format.bytes(bytes))".utf8))
            }
        } catch {
            exitWithError("verify failed: \(error)")
        }
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
        let seconds = Date().timeIntervalSince(start)
        Output.write("verified \(report.blobs) blobs, \(Format.bytes(report.bytes)) in \(String(format: "%.1f", seconds)) s: "
              + "\(report.blobs - report.quarantined.count) ok, \(report.quarantined.count) quarantined")
        for digest in report.quarantined { Output.write("quarantined \(digest)") }
        if !report.quarantined.isEmpty { throw ExitCode(2) }
    }
}
