import Foundation
import StrataFuzzTargets
import Testing

/// The fuzz corpus and every crash the fuzzers ever found, replayed through the same
/// targets as plain unit tests: a regression fails here, without libFuzzer.
@Suite struct FuzzCorpusTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz").path

    static func inputs(_ folder: String) -> [(target: String, path: String)] {
        let base = "\(root)/\(folder)"
        let targets = (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []
        return targets.sorted().flatMap { target in
            ((try? FileManager.default.contentsOfDirectory(atPath: "\(base)/\(target)")) ?? []).sorted().map { (target, "\(base)/\(target)/\($0)") }
        }
    }

    @Test func everyTargetHasASeedCorpus() {
        let seeded = Set(Self.inputs("corpus").map(\.target))
        #expect(seeded == Set(FuzzTargets.all.keys))
    }

    @Test func corpusAndRegressionsReplay() throws {
        let all = Self.inputs("corpus") + Self.inputs("regressions")
        #expect(all.count > 100)
        for (target, path) in all {
            let run = try #require(FuzzTargets.all[target], "no fuzz target \(target)")
            let data = try #require(FileManager.default.contents(atPath: path))
            run(Array(data))
        }
    }
}
