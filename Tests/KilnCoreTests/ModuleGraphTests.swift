import Foundation
import XCTest

/// The module graph `Package.swift` declares must be the one the sources draw: every declared
/// Kiln→Kiln dependency is imported somewhere in the target, and no target imports a Kiln module it
/// does not declare (issue 22). The `kiln` CLI target's list is `cliModules`.
final class ModuleGraphTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// Module → declared Kiln dependencies, from the `domains` table.
    static func declared() throws -> [String: Set<String>] {
        let text = try String(contentsOfFile: root + "/Package.swift", encoding: .utf8)
        let row = try NSRegularExpression(pattern: #"\("(Kiln\w+)",\s*\[([^\]]*)\]"#)
        let name = try NSRegularExpression(pattern: #""(Kiln\w+)""#)
        var out: [String: Set<String>] = [:]
        for m in row.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
            let module = String(text[Range(m.range(at: 1), in: text)!])
            let list = String(text[Range(m.range(at: 2), in: text)!])
            out[module] = Set(name.matches(in: list, range: NSRange(list.startIndex..., in: list)).map {
                String(list[Range($0.range(at: 1), in: list)!])
            })
        }
        let cli = try NSRegularExpression(pattern: #"let cliModules = \[([^\]]*)\]"#)
        if let m = cli.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) {
            let list = String(text[Range(m.range(at: 1), in: text)!])
            out["kiln"] = Set(name.matches(in: list, range: NSRange(list.startIndex..., in: list)).map {
                String(list[Range($0.range(at: 1), in: list)!])
            })
        }
        XCTAssertNotNil(out["kiln"], "could not read cliModules from Package.swift")
        return out
    }

    /// Kiln modules imported by the Swift files under `Sources/<module>`.
    static func imported(_ module: String) throws -> Set<String> {
        let dir = root + "/Sources/" + module
        let re = try NSRegularExpression(pattern: #"^(?:@\w+\s+)*import\s+(Kiln\w+)"#, options: .anchorsMatchLines)
        var out = Set<String>()
        let files = FileManager.default.enumerator(atPath: dir)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") } ?? []
        for f in files {
            let text = try String(contentsOfFile: dir + "/" + f, encoding: .utf8)
            for m in re.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                out.insert(String(text[Range(m.range(at: 1), in: text)!]))
            }
        }
        out.remove(module)
        return out
    }

    func testDeclaredDependenciesAreExactlyTheImports() throws {
        let graph = try Self.declared()
        XCTAssertGreaterThanOrEqual(graph.count, 12, "could not read the domains table of Package.swift")
        for (module, deps) in graph.sorted(by: { $0.key < $1.key }) {
            let imports = try Self.imported(module)
            for d in deps.subtracting(imports).sorted() {
                XCTFail("Package.swift: \(module) declares \(d) but no file in Sources/\(module) imports it; drop the edge or use it")
            }
            for d in imports.subtracting(deps).sorted() {
                XCTFail("Sources/\(module) imports \(d), which Package.swift does not declare for \(module); declare it (if the data flow allows) or stop importing it")
            }
        }
    }

    func testEveryModuleHasAnOverview() throws {
        for module in try Self.declared().keys where module != "kiln" {
            let path = Self.root + "/Sources/\(module)/\(module).swift"
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            XCTAssertTrue(text.hasPrefix("//"), "\(path): each module starts with an overview comment (what it owns, what it may import)")
            XCTAssertTrue(text.contains("May import:"), "\(path): the overview says which modules it may import (a `May import:` line)")
        }
    }
}
