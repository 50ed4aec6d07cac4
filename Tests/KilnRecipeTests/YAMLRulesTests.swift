import KilnCore
@testable import KilnRecipe
import XCTest

/// The four rules KilnCore's one YAML reader applies to every file, seen through a recipe (the same
/// rules through an image config: KilnImageTests.ImageYAMLRulesTests).
final class RecipeYAMLRulesTests: XCTestCase {
    let head = "package:\n  name: x\n  version: 1.0\n"
    func parse(_ text: String, lenient: Bool = false) throws -> (Recipe, [RecipeWarning]) {
        try RecipeParser(lenient: lenient).parse(text: text, file: "r.yaml")
    }
    func error(_ text: String) -> InputError? {
        do { _ = try parse(text); return nil } catch { return error as? InputError }
    }

    /// A single scalar where a list is expected is an error (melange's yaml.v3 refuses a string for []string).
    func testScalarIsNotAOneItemList() throws {
        let e = try XCTUnwrap(error(head + "environment:\n  contents:\n    packages: busybox\n"))
        XCTAssertEqual(e.kind, .wrongType)
        XCTAssertEqual(e.description, "r.yaml:6:15: environment.contents.packages: expected a list, found the scalar `busybox`")
    }

    /// An explicit null is the zero value: an empty list, mapping or string, never an error.
    func testExplicitNullIsEmpty() throws {
        let (r, w) = try parse(head + "vars: ~\nenvironment:\n  contents:\n    packages: null\n  environment:\npipeline: []\nsubpackages: ~\n")
        XCTAssertTrue(r.vars.isEmpty); XCTAssertTrue(r.environment.packages.isEmpty)
        XCTAssertTrue(r.environment.variables.isEmpty); XCTAssertTrue(r.subpackages.isEmpty); XCTAssertTrue(w.isEmpty)
        // `package: ~` is an empty mapping, so the missing name is what is reported.
        XCTAssertEqual(error("package: ~\n")?.kind, .missingKey)
    }

    /// A repeated key is an error at the repeat naming the line of the first — also inside a string map
    /// (`vars`, a step's `with`, `options`, pipeline `inputs`), which used to keep both.
    func testDuplicateKeysNameBothLines() throws {
        let e = try XCTUnwrap(error("package:\n  name: x\n  version: 1\n  name: y\n"))
        XCTAssertEqual(e.kind, .invalidValue)
        XCTAssertEqual(e.description, "r.yaml:4:3: package: duplicate key `name` (first at line 2); write each key once")
        let v = try XCTUnwrap(error(head + "vars:\n  a: 1\n  b: 2\n  a: 3\n"))
        XCTAssertEqual(v.description, "r.yaml:7:3: vars: duplicate key `a` (first at line 5); write each key once")
        let w = try XCTUnwrap(error(head + "pipeline:\n  - uses: fetch\n    with:\n      uri: a\n      uri: b\n"))
        XCTAssertEqual(w.description, "r.yaml:8:7: pipeline[0].with: duplicate key `uri` (first at line 7); write each key once")
    }

    /// Unknown keys: an error naming the key, its place and the known keys; with --lenient a warning
    /// of the same text (and the value kept).
    func testUnknownKeysAreErrorsOrWarnings() throws {
        let text = head + "pipeline: []\nflavour: salty\n"
        let e = try XCTUnwrap(error(text))
        XCTAssertEqual(e.kind, .unknownKey)
        XCTAssertTrue(e.description.hasPrefix("r.yaml:5:1: unknown key `flavour` in recipe (known: capabilities, data, environment,"), e.description)
        XCTAssertTrue(e.description.hasSuffix("; fix the key or pass --lenient to only warn"), e.description)
        let (r, w) = try parse(text, lenient: true)
        XCTAssertEqual(w.map(\.description), [e.description.replacingOccurrences(of: "r.yaml:5:1: ", with: "r.yaml:5:1: warning: ")
                                                  .replacingOccurrences(of: "; fix the key or pass --lenient to only warn", with: "")])
        XCTAssertEqual(r.extra.map(\.key), ["flavour"])
    }
}
