import Foundation
import KilnRecipe
import XCTest

/// Hostile recipes: names and versions that would become paths, and YAML shaped to crash the parser.
final class RecipeHostileTests: XCTestCase {
    static func recipe(name: String = "x", version: String = "1.0", subpackage: String? = nil) -> String {
        var text = """
        package:
          name: \(name)
          version: "\(version)"
        pipeline:
          - runs: "true"

        """
        if let subpackage {
            text += "subpackages:\n  - name: \"\(subpackage)\"\n    pipeline:\n      - runs: \"true\"\n"
        }
        return text
    }

    /// `<out>/trees/<arch>` is 3 levels below work/, so 4 `../` reach the victim beside it.
    func testSubpackageNamesThatArePathsAreRefusedBeforeAnyFileIsTouched() throws {
        let p = try Playground(self)
        let names = ["../../../../victim", "../../../../victim/sub", "/abs/olute", "a/b", "..", ".hidden",
                     "${{package.name}}/../../../../../victim", "${{package.name}} space", "-dash"]
        for (i, n) in names.enumerated() {
            let file = "sub\(i).yaml"
            try p.write(file, Self.recipe(subpackage: n))
            let shown = n.contains("${{") ? n.replacingOccurrences(of: "${{package.name}}", with: "x") : n
            try p.refuses(["build", file, "--out", "out", "--no-package"], mentions: ["\(file):", "`\(shown)`", "not a valid package name"])
            XCTAssertFalse(FileManager.default.fileExists(atPath: "\(p.work)/out/trees"), n)
        }
    }

    /// A ranged subpackage gets its name from `data:` only when the plan is made: checked there, before any directory.
    func testRangedSubpackageNamesAreCheckedAfterSubstitution() throws {
        let p = try Playground(self)
        try p.write("range.yaml", """
        package:
          name: x
          version: "1.0"
        data:
          - name: evil
            items:
              ok: fine
              ../../../../victim: bad
        pipeline:
          - runs: "true"
        subpackages:
          - range: evil
            name: ${{range.key}}
            pipeline:
              - runs: "true"

        """)
        try p.refuses(["build", "range.yaml", "--out", "out", "--no-package"], mentions: ["range.yaml:12:", "`../../../../victim`", "not a valid package name"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(p.work)/out/trees"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(p.work)/out/tmp"))
    }

    func testPackageNamesAndVersionsThatArePathsAreRefused() throws {
        let p = try Playground(self)
        let cases: [(name: String, version: String, bad: String, what: String)] = [
            ("../../victim", "1.0", "../../victim", "package.name"),
            ("x", "1/../../../victim", "1/../../../victim", "package.version"),
            ("x", "1.0 ; rm", "1.0 ; rm", "package.version"),
            ("x", "1.0-r2", "1.0-r2", "package.version"),
            ("x", "not a version!", "not a version!", "package.version"),
        ]
        for (i, c) in cases.enumerated() {
            let file = "pkg\(i).yaml"
            try p.write(file, Self.recipe(name: c.name, version: c.version))
            try p.refuses(["build", file, "--out", "out", "--no-package"], mentions: ["\(file):", "\(c.what): `\(c.bad)`"])
            XCTAssertFalse(FileManager.default.fileExists(atPath: "\(p.work)/out/logs"), "a log was written for \(c.bad)")
        }
    }

    /// Deep nesting (block and flow) and alias bombs: a clear error naming the file, never a segfault.
    func testYAMLBombsAreRefusedByRecipeAndImageLoading() throws {
        let p = try Playground(self)
        let block = (0..<1_000).map { String(repeating: "  ", count: $0) + "k\($0):" }.joined(separator: "\n") + " x\n"
        let bombs: [(String, String, String)] = [
            ("flow.yaml", String(repeating: "[", count: 20_000) + String(repeating: "]", count: 20_000) + "\n", "nested more than 256"),
            ("map.yaml", String(repeating: "{a: ", count: 20_000) + "1" + String(repeating: "}", count: 20_000) + "\n", "nested more than 256"),
            ("block.yaml", block, "nested more than 256"),
            ("dash.yaml", String(repeating: "- ", count: 3_000) + "x\n", "nested more than 256"),
            ("laughs.yaml", Self.aliasBomb(levels: 6), "alias bomb"),
            ("laughs-map.yaml", Self.aliasBomb(levels: 7, mapping: true), "alias bomb"),
        ]
        for (file, text, problem) in bombs {
            try p.write(file, text)
            try p.refuses(["build", file, "--out", "out", "--no-package"], mentions: ["\(file):", problem])
            try p.refuses(["image", file, "--out", "out/img"], mentions: ["\(file):", problem])
        }
        // The library refuses them too, with a typed error.
        XCTAssertThrowsError(try RecipeParser().parse(text: Self.aliasBomb(levels: 6), file: "b.yaml")) { e in
            XCTAssertEqual((e as? RecipeError)?.kind, .limit, "\(e)")
        }
        // A document just inside the limits still parses.
        // (`data:` has melange's shape: a list of {name, items}.)
        let fine = "package: {name: x, version: \"1\"}\npipeline:\n  - runs: \"true\"\ndata:\n  - {name: a, items: &a {x: \"1\", y: \"2\"}}\n  - {name: b, items: *a}\n"
        XCTAssertNoThrow(try RecipeParser().parse(text: fine, file: "fine.yaml"))
    }

    /// Each level lists the previous anchor 10 times: `levels` 6 expands to 10⁶ nodes in a few hundred bytes.
    static func aliasBomb(levels: Int, mapping: Bool = false) -> String {
        var lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        for i in 1...levels {
            let items = (0..<10).map { mapping ? "k\($0): *a\(i - 1)" : "*a\(i - 1)" }.joined(separator: ", ")
            lines.append(mapping ? "a\(i): &a\(i) {\(items)}" : "a\(i): &a\(i) [\(items)]")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
