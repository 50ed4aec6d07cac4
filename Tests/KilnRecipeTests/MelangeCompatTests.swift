import KilnCore
@testable import KilnRecipe
import XCTest

/// Where kiln was wrong against melange (issue 21, fixes 1–6) and the substitutions it lacked.
/// Each case names the melange behaviour it follows (pkg/config/config.go, pkg/build/compile.go).
final class MelangeCompatTests: XCTestCase {
    func parse(_ text: String, lenient: Bool = false) throws -> (Recipe, [RecipeWarning]) {
        try RecipeParser(lenient: lenient).parse(text: text, file: "r.yaml")
    }

    func assertRecipeError(_ text: String, _ kind: RecipeError.Kind, line: Int, contains: String,
                           file: StaticString = #filePath, lineNo: UInt = #line) {
        XCTAssertThrowsError(try parse(text), file: file, line: lineNo) { error in
            guard let e = error as? RecipeError else { return XCTFail("\(error)", file: file, line: lineNo) }
            XCTAssertEqual(e.kind, kind, "\(e)", file: file, line: lineNo)
            XCTAssertEqual(e.location.line, line, "\(e)", file: file, line: lineNo)
            XCTAssertTrue(e.description.contains(contains), "\(e)", file: file, line: lineNo)
        }
    }

    // 1. Pipeline definitions are decoded without known-field checks; types still matter.
    func testPipelineDefinitionToleratesUnknownKeysButNotWrongTypes() throws {
        let def = try PipelineDefinition.parse(text: """
            name: Validate
            description: |
              What this pipeline does.
            x-anything: [1, 2]
            inputs:
              files:
                description: files
                type: string
                default: a
            pipeline:
              - runs: echo ${{inputs.files}}
                some-future-key: true
            """, file: "p.yaml", id: "p")
        XCTAssertEqual(def.inputs.map(\.name), ["files"])
        XCTAssertEqual(def.pipeline.count, 1)
        XCTAssertThrowsError(try PipelineDefinition.parse(text: "needs:\n  packages: go\n", file: "p.yaml", id: "p")) {
            XCTAssertTrue("\($0)".hasPrefix("p.yaml:2:13: needs.packages: expected a list"), "\($0)")
        }
    }

    // 3. Test planning expands ranges and applies subpackage `if:` like build planning.
    func testTestPlanningExpandsRangesAndSkipsFalseIf() throws {
        let (r, _) = try parse("""
            package: {name: py3-foo, version: "1.0", epoch: 0}
            data:
              - name: py-versions
                items: {"3.12": "312", "3.11": "311"}
            pipeline:
              - runs: true
            subpackages:
              - range: py-versions
                name: py${{range.key}}-foo
                description: foo for ${{range.key}} ${{not.known}}
                pipeline: [{runs: "echo ${{range.value}}"}]
                test:
                  pipeline:
                    - runs: python${{range.key}} -c 'import foo' && echo ${{context.name}}
              - name: never
                if: ${{build.arch}} == 'riscv64'
                test:
                  pipeline: [{runs: exit 1}]
              - name: empty-range
                range: ""
            """)
        let ex = PipelineExpander(library: EmptyLibrary(), arch: "x86_64")
        let tests = try ex.planTests(r)
        XCTAssertEqual(tests.map(\.package), ["py3.11-foo", "py3.12-foo"])
        XCTAssertEqual(tests[0].steps.first?.script, "python3.11 -c 'import foo' && echo py3.11-foo")
        let plan = try ex.plan(r)
        XCTAssertEqual(plan.subpackages.map(\.name), ["py3.11-foo", "py3.12-foo", "empty-range"])
        // 4. an unknown substitution in a description stays as written...
        XCTAssertEqual(plan.subpackages[0].description, "foo for 3.11 ${{not.known}}")
        // ...but in `runs:` it is an error naming its line.
        let (bad, _) = try parse("package: {name: a, version: '1'}\npipeline:\n  - runs: echo ${{not.known}}\n")
        XCTAssertThrowsError(try ex.plan(bad)) {
            XCTAssertTrue("\($0)".hasPrefix("r.yaml:3:16: unknown substitution `${{not.known}}`"), "\($0)")
        }
    }

    // 5. `range: ""` is no range (melange: `if sp.Range == ""`).
    func testEmptyRangeIsNoRange() throws {
        let (r, _) = try parse("package: {name: a, version: '1'}\nsubpackages:\n  - name: a-doc\n    range: ''\n")
        XCTAssertNil(r.subpackages[0].range)
    }

    // 6a. Keys melange/apko accept.
    func testAcceptsSubpackageAnnotationsFormatAndRuntimeKeyring() throws {
        let (r, warnings) = try parse("""
            package: {name: a, version: '1'}
            environment:
              format: tar
              contents:
                runtime_keyring:
                  - name: k.rsa.pub
                    content: "-----BEGIN PUBLIC KEY-----"
            subpackages:
              - name: a-doc
                annotations: {org.example/x: y}
            """)
        XCTAssertEqual(r.subpackages[0].kept.map(\.key), ["annotations"])
        XCTAssertEqual(warnings.count, 1)
        XCTAssertTrue(warnings[0].description.hasPrefix("r.yaml:6:"), warnings[0].description)
        XCTAssertTrue(warnings[0].message.contains("offline"), warnings[0].message)
        assertRecipeError("package: {name: a, version: '1'}\nenvironment:\n  format: zip\n", .invalidValue, line: 3, contains: "not a layer format")
    }

    // 6b. As strict as melange's known-fields decoding where kiln was looser.
    func testStrictWhereMelangeIsStrict() {
        let head = "package:\n  name: a\n  version: '1'\n"
        assertRecipeError(head + "update:\n  enabled: true\n  github:\n    identifer: x/y\n", .unknownKey, line: 7, contains: "unknown key `identifer` in update.github")
        assertRecipeError(head + "update:\n  enabled: maybe\n", .wrongType, line: 5, contains: "update.enabled: expected true or false")
        assertRecipeError(head + "update:\n  release-monitor:\n    identifier: \"123\"\n", .wrongType, line: 6, contains: "quoted string")
        assertRecipeError(head + "data:\n  - name: v\n    itemz: {}\n", .unknownKey, line: 6, contains: "unknown key `itemz` in data[0]")
        assertRecipeError(head + "capabilities:\n  keep: [x]\n", .unknownKey, line: 5, contains: "in capabilities")
        assertRecipeError(head + "  cpe:\n    vendr: x\n", .unknownKey, line: 5, contains: "in package.cpe")
        assertRecipeError(head + "  resources:\n    gpu: 1\n", .unknownKey, line: 5, contains: "in package.resources")
        assertRecipeError(head + "  checks:\n    enabled: [x]\n", .unknownKey, line: 5, contains: "in package.checks")
        assertRecipeError(head + "  epoch: \"2\"\n", .wrongType, line: 4, contains: "package.epoch: expected an integer, found the quoted string `2`")
        assertRecipeError(head + "subpackages:\n  - name: a-x\n    checks: {disabled: x}\n", .wrongType, line: 6, contains: "subpackages[0].checks.disabled: expected a list")
        // with --lenient, unknown keys are warnings; wrong types stay errors
        XCTAssertEqual(try parse(head + "update:\n  enabled: true\n  foo: 1\n", lenient: true).1.count, 1)
    }

    // 6c. `with:` keys a pipeline does not declare: melange's "undefined input" error, at the key's line.
    func testUndeclaredWithKeyIsAnError() throws {
        let lib = try TestLibrary(["make": makeDef])
        let (r, _) = try parse("package: {name: a, version: '1'}\npipeline:\n  - uses: make\n    with:\n      optz: -j1\n")
        XCTAssertThrowsError(try PipelineExpander(library: lib, arch: "x86_64").plan(r)) {
            guard let e = $0 as? RecipeError else { return XCTFail("\($0)") }
            XCTAssertEqual(e.kind, .unknownInput)
            XCTAssertEqual(e.location.line, 5)
            XCTAssertTrue(e.message.contains("pipeline `make` has no input `optz` (it takes: dir, opts)"), e.message)
        }
    }

    // Substitutions: context.name, options.X.enabled, targets.package.X, cross.triplet.*.
    func testMelangeSubstitutions() throws {
        let (r, _) = try parse("""
            package: {name: a, version: '1'}
            options:
              fips: {vars: {x: "1"}}
              debug: {}
            pipeline:
              - runs: |
                  echo ${{context.name}} ${{options.fips.enabled}} ${{options.debug.enabled}}
                  echo ${{targets.package.a-doc}} ${{targets.package.a}}
                  echo ${{cross.triplet.gnu.glibc}} ${{cross.triplet.gnu.musl}} ${{cross.triplet.rust.glibc}} ${{cross.triplet.rust.musl}}
            subpackages:
              - name: a-doc
                pipeline: [{runs: "echo ${{context.name}}"}]
            """)
        let ex = PipelineExpander(library: EmptyLibrary(), arch: "x86_64")
        let std = try ex.plan(r)
        XCTAssertEqual(std.steps[0].script, """
            echo a false false
            echo /home/build/melange-out/a-doc /home/build/melange-out/a
            echo x86_64-pc-linux-gnu x86_64-pc-linux-musl x86_64-unknown-linux-gnu x86_64-unknown-linux-musl

            """)
        XCTAssertEqual(std.steps[1].script, "echo a-doc")
        let debug = try ex.plan(try r.applying(buildOption: "debug"))
        XCTAssertTrue(debug.steps[0].script!.hasPrefix("echo a false true\n"), debug.steps[0].script!)
    }
}

/// A library with no pipelines.
struct EmptyLibrary: PipelineLibrary {
    func definition(named: String) -> PipelineDefinition? { nil }
    var names: [String] { [] }
}
