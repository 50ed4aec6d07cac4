import KilnCore
@testable import KilnImage
import XCTest

/// The four rules KilnCore's one YAML reader applies to every file, seen through an image config
/// (the same rules through a recipe: KilnRecipeTests.RecipeYAMLRulesTests). Image configs used to
/// have their own reader (NodeReader) that disagreed on each of them.
final class ImageYAMLRulesTests: XCTestCase {
    func error(_ text: String) -> InputError? {
        do { _ = try ImageConfig.parse(text, file: "c.yaml"); return nil } catch { return error as? InputError }
    }

    /// A single scalar where a list is expected is an error, as apko's yaml.v3 decoding makes it
    /// (NodeReader read `archs: x86_64` or `keyring: k.pub` as a one-item list).
    func testScalarIsNotAOneItemList() throws {
        XCTAssertEqual(error("contents:\n  keyring: k.pub\n")?.description,
                       "c.yaml:2:12: contents.keyring: expected a list, found the scalar `k.pub`")
        XCTAssertEqual(error("archs: x86_64\n")?.description, "c.yaml:1:8: archs: expected a list, found the scalar `x86_64`")
        XCTAssertEqual(error("accounts:\n  groups:\n    - {groupname: a, gid: 1, members: b}\n")?.kind, .wrongType)
        // packages keep their own hint (pinned by ImageHostileTests).
        XCTAssertTrue(error("contents:\n  packages: curl\n")?.description.contains("c.yaml:2:13: packages must be a list") ?? false)
    }

    /// An explicit null is the zero value: an empty list, mapping or string (NodeReader refused a null
    /// list and read `cmd: ~` as the command `~`).
    func testExplicitNullIsEmpty() throws {
        let c = try ImageConfig.parse("contents:\n  packages: ~\n  keyring:\nenvironment: null\narchs: ~\ncmd: ~\naccounts: ~\n", file: "c.yaml")
        XCTAssertTrue(c.packages.isEmpty); XCTAssertTrue(c.keyring.isEmpty); XCTAssertTrue(c.environment.isEmpty)
        XCTAssertEqual(c.archs, ["x86_64"]); XCTAssertEqual(c.cmd, ""); XCTAssertTrue(c.warnings.isEmpty, "\(c.warnings)")
        // A null name is the empty name, which is not a valid image name.
        XCTAssertTrue(error("name: ~\n")?.description.contains("is not a valid image name") ?? false)
    }

    /// A repeated key is an error at the repeat naming the line of the first, in the same words as a recipe's.
    func testDuplicateKeysNameBothLines() throws {
        XCTAssertEqual(error("cmd: a\nwork-dir: /\ncmd: b\n")?.description,
                       "c.yaml:3:1: image config: duplicate key `cmd` (first at line 1); write each key once")
        XCTAssertEqual(error("environment:\n  A: 1\n  A: 2\n")?.description,
                       "c.yaml:3:3: environment: duplicate key `A` (first at line 2); write each key once")
    }

    /// Unknown keys are warnings (kiln has no --lenient for images; README "Image configs"), worded as a
    /// recipe's: the key, its section with index, and the known keys.
    func testUnknownKeysAreWarningsNamingTheKnownKeys() throws {
        let c = try ImageConfig.parse("paths:\n  - {path: /d, type: directory, mode: 1}\nlayering: {strategy: origin, budgt: 2}\n", file: "c.yaml")
        XCTAssertEqual(c.warnings, [
            "c.yaml:2:33: unknown key `mode` in paths[0] (known: gid, path, permissions, recursive, source, type, uid)",
            "c.yaml:3:30: unknown key `budgt` in layering (known: budget, strategy)",
        ])
    }
}
