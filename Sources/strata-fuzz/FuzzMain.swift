import Foundation
import StrataFuzzTargets

// Built two ways (Tests/fuzz.sh):
// - with `-sanitize=fuzzer -DFUZZING`: `strata-fuzz TARGET [libFuzzer flags] [CORPUS...]`
//   runs libFuzzer on one target;
// - plainly: `strata-fuzz TARGET FILE...` replays inputs through the target (a crash
//   found by the fuzzer, reproduced without libFuzzer).

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

nonisolated(unsafe) var selected: (@Sendable ([UInt8]) -> Void)? = nil

// SwiftPM links an executable's entry point as `<module>_main`.
@_cdecl("strata_fuzz_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    let arguments = (0..<Int(argc)).map { String(cString: argv[$0]!) }
    guard arguments.count >= 2, let target = FuzzTargets.all[arguments[1]] else {
        FileHandle.standardError.write(Data("usage: strata-fuzz TARGET [libFuzzer flags] [CORPUS...]\ntargets: \(FuzzTargets.all.keys.sorted().joined(separator: " "))\n".utf8))
        return 2
    }
    selected = target
    // libFuzzer sees the program name and everything after the target.
    var rest = [argv[0]] + (2..<Int(argc)).map { argv[$0] }
    var count = Int32(rest.count)
    return rest.withUnsafeMutableBufferPointer { buffer in
        var base = buffer.baseAddress
        return LLVMFuzzerRunDriver(&count, &base) { data, size in
            let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
            selected?(bytes)
            return 0
        }
    }
}
#else
@main
struct Replay {
    static func main() {
        let arguments = CommandLine.arguments
        guard arguments.count >= 2, let target = FuzzTargets.all[arguments[1]] else {
            print("usage: strata-fuzz TARGET FILE...\ntargets: \(FuzzTargets.all.keys.sorted().joined(separator: " "))")
            exit(2)
        }
        for path in arguments.dropFirst(2) {
            guard let data = FileManager.default.contents(atPath: path) else { print("cannot read \(path)"); exit(1) }
            target(Array(data))
            print("ok \(path)")
        }
    }
}
#endif
