import Foundation
import Testing

/// `Package.swift` declares exactly the modules each target imports: no dependency a
/// module does not use, none it uses only through another's.
@Suite struct PackageManifestTests {
    static let system: Set<String> = ["Foundation", "FoundationEssentials", "Glibc", "Darwin", "Dispatch", "Testing", "XCTest", "Synchronization"]

    /// target name → the modules named in its `dependencies:` list.
    static func declared(_ manifest: String) throws -> [String: Set<String>] {
        var out: [String: Set<String>] = [:]
        let scanner = manifest as NSString
        let pattern = try NSRegularExpression(pattern: #"\.(?:target|executableTarget|testTarget)\(name: "([^"]+)"(?:, dependencies: \[)?"#)
        for match in pattern.matches(in: manifest, range: NSRange(location: 0, length: scanner.length)) {
            let name = scanner.substring(with: match.range(at: 1))
            var dependencies = Set<String>()
            if scanner.substring(with: match.range).hasSuffix("[") {
                // The list runs to the bracket that closes it.
                var depth = 1
                var index = match.range.location + match.range.length
                let start = index
                while depth > 0, index < scanner.length {
                    let c = scanner.character(at: index)
                    if c == 0x5b { depth += 1 } else if c == 0x5d { depth -= 1 }
                    index += 1
                }
                let list = scanner.substring(with: NSRange(location: start, length: index - start - 1))
                let names = try NSRegularExpression(pattern: #"(?:\.product\(name: )?"([^"]+)""#)
                for item in names.matches(in: list, range: NSRange(location: 0, length: (list as NSString).length)) {
                    let text = (list as NSString).substring(with: item.range)
                    // `package: "swift-nio"` is not a module.
                    let before = item.range.location >= 10 ? (list as NSString).substring(with: NSRange(location: item.range.location - 10, length: 10)) : ""
                    if before.hasSuffix("package: ") { continue }
                    dependencies.insert((list as NSString).substring(with: item.range(at: 1)))
                    _ = text
                }
            }
            out[name] = dependencies
        }
        return out
    }

    static func imports(of directory: String) -> Set<String> {
        var out = Set<String>()
        for file in (try? FileManager.default.subpathsOfDirectory(atPath: directory)) ?? [] where file.hasSuffix(".swift") {
            guard let text = try? String(contentsOfFile: "\(directory)/\(file)", encoding: .utf8) else { continue }
            for line in text.split(separator: "\n") {
                let words = line.split(separator: " ")
                guard let i = words.firstIndex(of: "import"), words[..<i].allSatisfy({ $0.hasPrefix("@") }), i + 1 < words.count else { continue }
                out.insert(String(words[i + 1]))
            }
        }
        return out.subtracting(system)
    }

    @Test func sourcesDeclareExactlyWhatTheyImport() throws {
        let manifest = try String(contentsOfFile: "\(DeployFiles.root)/Package.swift", encoding: .utf8)
        let declared = try Self.declared(manifest)
        let sources = try FileManager.default.contentsOfDirectory(atPath: "\(DeployFiles.root)/Sources")
        for target in sources.sorted() {
            guard let deps = declared[target] else { continue }
            let used = Self.imports(of: "\(DeployFiles.root)/Sources/\(target)")
            #expect(used.subtracting(deps).isEmpty, "\(target) imports \(used.subtracting(deps).sorted()) without declaring them")
            #expect(deps.subtracting(used).isEmpty, "\(target) declares \(deps.subtracting(used).sorted()) without importing them")
        }
        #expect(declared.count >= 12)
    }

    /// The registry routes ask the engine: they see neither the store nor the upstream client.
    @Test func registryRoutesSeeOnlyCoreAndTheMirror() {
        let used = Self.imports(of: "\(DeployFiles.root)/Sources/StrataRegistryAPI")
        #expect(Set(used.filter { $0.hasPrefix("Strata") }) == ["StrataCore", "StrataMirror"])
    }
}
