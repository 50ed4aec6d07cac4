import KilnCore
@testable import KilnRecipe
import KilnTestSupport
import XCTest

/// An in-memory pipeline library for expansion tests.
struct TestLibrary: PipelineLibrary {
    var defs: [String: PipelineDefinition]
    init(_ yaml: [String: String]) throws {
        defs = [:]
        for (k, v) in yaml { defs[k] = try PipelineDefinition.parse(text: v, file: "\(k).yaml", id: k) }
    }
    func definition(named: String) -> PipelineDefinition? { defs[named] }
    var names: [String] { defs.keys.sorted() }
}

let fetchDef = """
name: fetch
inputs:
  uri:
    required: true
  expected-sha256:
    description: digest
  strip-components:
    default: 1
pipeline:
  - runs: tar -x --strip-components=${{inputs.strip-components}} -f $(basename ${{inputs.uri}})
"""

let makeDef = """
name: make
inputs:
  opts:
    default: ''
  dir:
    default: .
pipeline:
  - runs: make -C ${{inputs.dir}} ${{inputs.opts}} DESTDIR=${{targets.contextdir}}
"""

final class RecipeParserTests: XCTestCase {
    func parse(_ text: String, lenient: Bool = false) throws -> (Recipe, [RecipeWarning]) {
        try RecipeParser(lenient: lenient).parse(text: text, file: "r.yaml")
    }

    /// Asserts that parsing fails with `kind` at line:column and a message containing `contains`.
    func assertError(_ text: String, _ kind: RecipeError.Kind, line: Int, column: Int? = nil, contains: String,
                     file: StaticString = #filePath, lineNo: UInt = #line) {
        do {
            _ = try parse(text)
            XCTFail("expected \(kind) error", file: file, line: lineNo)
        } catch let e as RecipeError {
            XCTAssertEqual(e.kind, kind, "\(e)", file: file, line: lineNo)
            XCTAssertEqual(e.location.file, "r.yaml", file: file, line: lineNo)
            XCTAssertEqual(e.location.line, line, "\(e)", file: file, line: lineNo)
            if let column { XCTAssertEqual(e.location.column, column, "\(e)", file: file, line: lineNo) }
            XCTAssertTrue(e.description.hasPrefix("r.yaml:\(line):"), e.description, file: file, line: lineNo)
            XCTAssertTrue(e.description.contains(contains), e.description, file: file, line: lineNo)
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: lineNo)
        }
    }

    let full = """
    package:
      name: zlib
      version: 1.10
      epoch: 2
      description: compression library
      url: https://zlib.net
      copyright:
        - license: Zlib
          paths: ["*"]
      dependencies:
        runtime: [libc]
        provides: [libz=1.10]
        provider-priority: 10
      options:
        no-commands: true
      scriptlets:
        post-install: |
          #!/bin/sh
          true
      target-architecture: [all]
    environment:
      contents:
        repositories: [https://example.org/repo]
        packages: [build-base, busybox]
      environment:
        CFLAGS: -O2
    vars:
      soname: libz.so.1
    var-transforms:
      - from: ${{package.version}}
        match: \\.
        replace: _
        to: mangled
    options:
      fips:
        vars:
          soname: libz-fips.so.1
        environment:
          contents:
            packages:
              add: [openssl-fips]
              remove: [busybox]
    pipeline:
      - uses: fetch
        with:
          uri: https://zlib.net/zlib-${{package.version}}.tar.gz
          expected-sha256: 0000000000000000000000000000000000000000000000000000000000000000
      - name: build
        runs: |
          echo ${{vars.mangled}}
        working-directory: src
        environment:
          X: "1"
      - if: ${{build.arch}} == 'aarch64'
        runs: echo arm
    subpackages:
      - name: ${{package.name}}-dev
        description: headers
        pipeline:
          - uses: make
            with:
              opts: V=1
    update:
      enabled: true
    test:
      pipeline:
        - runs: zlib --version
    """

    func testParsesFullRecipe() throws {
        let (r, warnings) = try parse(full)
        XCTAssertTrue(warnings.isEmpty)
        XCTAssertEqual(r.package.name, "zlib")
        XCTAssertEqual(r.package.version, "1.10", "versions stay strings exactly as written")
        XCTAssertEqual(r.package.epoch, 2)
        XCTAssertEqual(r.package.fullVersion, "1.10-r2")
        XCTAssertEqual(r.package.copyright.first?.license, "Zlib")
        XCTAssertEqual(r.package.dependencies.provides, ["libz=1.10"])
        XCTAssertEqual(r.package.dependencies.providerPriority, "10")
        XCTAssertTrue(r.package.options.noCommands)
        XCTAssertEqual(r.package.scriptlets["post-install"], "#!/bin/sh\ntrue\n")
        XCTAssertEqual(r.environment.packages, ["build-base", "busybox"])
        XCTAssertEqual(r.environment.variables.first?.value, "-O2")
        XCTAssertEqual(r.pipeline.count, 3)
        XCTAssertEqual(r.pipeline[0].uses, "fetch")
        XCTAssertEqual(r.pipeline[0].location, SourceLocation(file: "r.yaml", line: 44, column: 5))
        XCTAssertEqual(r.pipeline[1].workingDirectory, "src")
        XCTAssertEqual(r.subpackages.first?.name, "${{package.name}}-dev")
        XCTAssertEqual(r.options.first?.name, "fips")
        XCTAssertNotNil(r.update)
        XCTAssertEqual(r.test?.pipeline.first?.runs, "zlib --version")
        XCTAssertEqual(r.variant, "standard")
    }

    func testEmptyValuesAreEmpty() throws {
        let (r, _) = try parse("package:\n  name: x\n  version: 1\n  dependencies:\n    runtime:\n    provides: ~\nvars:\npipeline:\n")
        XCTAssertEqual(r.package.dependencies.runtime, [])
        XCTAssertEqual(r.package.dependencies.provides, [])
        XCTAssertTrue(r.pipeline.isEmpty)
        let (q, _) = try parse("package:\n  name: x\n  version: 1\n  description: \"null\"\n")
        XCTAssertEqual(q.package.description, "null", "a quoted null is a string")
    }

    func testVersionsAreNotNumbers() throws {
        for v in ["4.33", "3.10", "1.0", "2", "1.2.3_rc1", "0010"] {
            let (r, _) = try parse("package:\n  name: x\n  version: \(v)\n")
            XCTAssertEqual(r.package.version, v)
        }
    }

    func testSyntaxErrorHasLineAndColumn() {
        assertError("package:\n  name: x\n  version: [1\n", .syntax, line: 4, contains: "invalid YAML")
        assertError("package:\n  name: x\n   bad: indent\n", .syntax, line: 3, contains: "invalid YAML")
    }

    func testMissingNameAndVersion() {
        assertError("package:\n  version: 1\n", .missingKey, line: 2, column: 3, contains: "missing required key `name`")
        assertError("package:\n  name: x\n", .missingKey, line: 2, column: 3, contains: "`version`")
        assertError("pipeline: []\n", .missingKey, line: 1, contains: "`package`")
        assertError("package:\n  name: ''\n  version: 1\n", .invalidValue, line: 2, column: 9, contains: "must not be empty")
    }

    func testWrongTypes() {
        assertError("package:\n  name: x\n  version: 1\npipeline:\n  runs: true\n", .wrongType, line: 5, column: 3,
                    contains: "expected a list")
        assertError("package:\n  name: x\n  version: 1\n  epoch: two\n", .wrongType, line: 4, column: 10,
                    contains: "expected an integer")
        assertError("package:\n  name: [x]\n  version: 1\n", .wrongType, line: 2, column: 9, contains: "expected a string")
        assertError("package:\n  name: x\n  version: 1\n  options:\n    no-commands: maybe\n", .wrongType, line: 5, column: 18,
                    contains: "true or false")
        assertError("package: x\n", .wrongType, line: 1, column: 10, contains: "expected a mapping")
        assertError("package:\n  name: x\n  version: 1\npipeline:\n  - uses: a\n    runs: b\n", .invalidValue, line: 5,
                    contains: "either `uses` or `runs`")
    }

    func testUnknownKeysStrictAndLenient() throws {
        let text = "package:\n  name: x\n  version: 1\n  colour: blue\nsurprise: 1\n"
        assertError(text, .unknownKey, line: 4, column: 3, contains: "unknown key `colour` in package")
        let (r, warnings) = try parse(text, lenient: true)
        XCTAssertEqual(warnings.map(\.location.line), [4, 5])
        XCTAssertEqual(r.extra.map(\.key), ["surprise"])
        XCTAssertEqual(r.package.kept.map(\.key), ["colour"])
        assertError("package:\n  name: x\n  version: 1\n  name: y\n", .invalidValue, line: 4, contains: "duplicate key")
    }

    func testBadVarTransformRegex() {
        assertError("package:\n  name: x\n  version: 1\nvar-transforms:\n  - from: a\n    match: (\n    to: b\n",
                    .invalidValue, line: 6, column: 12, contains: "not a valid regular expression")
        assertError("package:\n  name: x\n  version: 1\nvar-transforms:\n  - from: a\n    match: b\n",
                    .missingKey, line: 5, contains: "`to`")
    }

    func testUnknownUsesAndMissingInput() throws {
        let lib = try TestLibrary(["fetch": fetchDef, "make": makeDef])
        let (r1, _) = try parse("package:\n  name: x\n  version: 1\npipeline:\n  - uses: nope/nothing\n")
        XCTAssertThrowsError(try PipelineExpander(library: lib, arch: "x86_64").plan(r1)) { e in
            let e = e as! RecipeError
            XCTAssertEqual(e.kind, .unknownPipeline)
            XCTAssertEqual(e.location, SourceLocation(file: "r.yaml", line: 5, column: 11))
            XCTAssertTrue(e.description.contains("nope/nothing"), e.description)
        }
        let (r2, _) = try parse("package:\n  name: x\n  version: 1\npipeline:\n  - uses: fetch\n    with:\n      expected-sha256: ab\n")
        XCTAssertThrowsError(try PipelineExpander(library: lib, arch: "x86_64").plan(r2)) { e in
            let e = e as! RecipeError
            XCTAssertEqual(e.kind, .missingInput)
            XCTAssertEqual(e.location.line, 5)
            XCTAssertTrue(e.description.contains("needs input `uri`"), e.description)
        }
    }

    func testUnknownSubstitutionNamesLine() throws {
        let lib = try TestLibrary(["make": makeDef])
        let text = "package:\n  name: x\n  version: 1\npipeline:\n  - runs: |\n      echo ok\n      echo ${{package.nmae}}\n"
        let (r, _) = try parse(text)
        XCTAssertThrowsError(try PipelineExpander(library: lib, arch: "x86_64").plan(r)) { e in
            let e = e as! RecipeError
            XCTAssertEqual(e.kind, .unknownSubstitution)
            XCTAssertEqual(e.location.line, 7, e.description)
            XCTAssertTrue(e.description.contains("${{package.nmae}}"), e.description)
            XCTAssertTrue(e.description.contains("package.name"), "lists what is known: \(e.description)")
        }
        let (r2, _) = try parse("package:\n  name: x\n  version: 1\npipeline:\n  - uses: make\n    with:\n      opts: ${{vars.nope}}\n")
        XCTAssertThrowsError(try PipelineExpander(library: lib, arch: "x86_64").plan(r2)) { e in
            XCTAssertEqual((e as! RecipeError).location, SourceLocation(file: "r.yaml", line: 7, column: 13))
        }
        XCTAssertThrowsError(try SubstitutionContext().substitute("a ${{b", at: SourceLocation(file: "f", line: 1, column: 1)))
    }

    func testExpansionSubstitutesInputsDefaultsAndContexts() throws {
        let lib = try TestLibrary(["fetch": fetchDef, "make": makeDef])
        let (r, _) = try parse(full)
        let plan = try PipelineExpander(library: lib, arch: "x86_64").plan(r)
        XCTAssertEqual(plan.steps.count, 3, "the aarch64-only step is skipped on x86_64")
        XCTAssertEqual(plan.steps[0].script, "tar -x --strip-components=1 -f $(basename https://zlib.net/zlib-1.10.tar.gz)")
        XCTAssertEqual(plan.fetches.first?.sha256, String(repeating: "0", count: 64))
        XCTAssertEqual(plan.steps[1].script, "echo 1_10\n")
        XCTAssertEqual(plan.steps[1].workingDirectory, "/home/build/src")
        XCTAssertEqual(plan.steps[1].environment, ["CFLAGS": "-O2", "X": "1"])
        XCTAssertEqual(plan.steps[2].package, "zlib-dev")
        XCTAssertEqual(plan.steps[2].script, "make -C . V=1 DESTDIR=/home/build/melange-out/zlib-dev")
        XCTAssertEqual(plan.subpackages.map(\.name), ["zlib-dev"])
        let arm = try PipelineExpander(library: lib, arch: "aarch64").plan(r)
        XCTAssertEqual(arm.steps.count, 4)
    }

    func testVarTransforms() throws {
        func t(_ match: String, _ replace: String, _ input: String) throws -> String {
            try VarTransformEngine.apply(VarTransform(from: "", match: match, replace: replace, to: "x",
                                                      location: SourceLocation(file: "f")), to: input)
        }
        XCTAssertEqual(try t("\\.", "_", "1.2.3"), "1_2_3")
        XCTAssertEqual(try t("^(\\d+)\\.(\\d+)\\.(\\d+)$", "$1.$2", "3.0.22"), "3.0")
        XCTAssertEqual(try t("^(\\d+)\\.(\\d+)$", "${1}_${2}0", "1.2"), "1_20")
        XCTAssertEqual(try t("_rc(\\d+)$", "-rc$1", "2.0_rc3"), "2.0-rc3")
        XCTAssertEqual(try t("nomatch", "x", "1.2"), "1.2")
        // chained: a transform may read an earlier one
        let (r, _) = try parse("""
        package:
          name: x
          version: 1.2.3
        var-transforms:
          - from: ${{package.version}}
            match: \\.
            replace: _
            to: a
          - from: ${{vars.a}}
            match: ^(\\d+)_.*$
            replace: major-$1
            to: b
        """)
        let c = try r.substitutionContext(arch: "x86_64")
        XCTAssertEqual(c["vars.a"], "1_2_3")
        XCTAssertEqual(c["vars.b"], "major-1")
    }

    func testBuildOptionAsVariant() throws {
        let (r, _) = try parse(full)
        let fips = try r.applying(buildOption: "fips")
        XCTAssertEqual(fips.variant, "fips")
        XCTAssertEqual(fips.environment.packages, ["build-base", "openssl-fips"])
        XCTAssertEqual(try fips.substitutionContext(arch: "x86_64")["vars.soname"], "libz-fips.so.1")
        XCTAssertEqual(try fips.substitutionContext(arch: "x86_64")["build.variant"], "fips")
        XCTAssertEqual(try r.substitutionContext(arch: "x86_64")["build.variant"], "standard")
        XCTAssertThrowsError(try r.applying(buildOption: "nope")) { e in
            XCTAssertTrue("\(e)".contains("fips"), "\(e)")
        }
        XCTAssertEqual(try r.applying(buildOption: "standard").variant, "standard")
    }

    func testRangedSubpackages() throws {
        let lib = try TestLibrary(["make": makeDef])
        let (r, _) = try parse("""
        package:
          name: py
          version: 1
        data:
          - name: versions
            items:
              "3.11": "311"
              "3.10": "310"
        subpackages:
          - range: versions
            name: py${{range.value}}-thing
            description: for python ${{range.key}}
            pipeline:
              - runs: echo ${{range.key}} ${{targets.subpkgdir}}
          - range: nothing
            name: x
        """)
        XCTAssertThrowsError(try PipelineExpander(library: lib, arch: "x86_64").plan(r)) { e in
            XCTAssertEqual((e as! RecipeError).location.line, 15)
        }
        var ok = r
        ok.subpackages.removeLast()
        let plan = try PipelineExpander(library: lib, arch: "x86_64").plan(ok)
        XCTAssertEqual(plan.subpackages.map(\.name), ["py310-thing", "py311-thing"])
        XCTAssertEqual(plan.subpackages.map(\.description), ["for python 3.10", "for python 3.11"])
        XCTAssertEqual(plan.steps.map(\.script), ["echo 3.10 /home/build/melange-out/py310-thing", "echo 3.11 /home/build/melange-out/py311-thing"])
    }

    func testConditions() throws {
        let at = SourceLocation(file: "f", line: 1)
        XCTAssertTrue(try Condition.evaluate("x86_64 == 'x86_64'", at: at))
        XCTAssertFalse(try Condition.evaluate("'a' != 'a'", at: at))
        XCTAssertTrue(try Condition.evaluate("a == b || (c == c && !(d == e))", at: at))
        XCTAssertFalse(try Condition.evaluate("a == a && b == c", at: at))
        XCTAssertThrowsError(try Condition.evaluate("a ==", at: at))
        XCTAssertThrowsError(try Condition.evaluate("banana", at: at))
    }

    func testPipelineDefinitionErrorsHavePositions() {
        // Unknown keys are passed over in pipeline files (melange); a wrong type names its place.
        XCTAssertThrowsError(try PipelineDefinition.parse(text: "name: x\ninputs:\n  a:\n    required: maybe\n", file: "p.yaml", id: "x")) { e in
            XCTAssertEqual((e as! RecipeError).location, SourceLocation(file: "p.yaml", line: 4, column: 15))
        }
    }

    func testNoCrashOnOddInput() {
        for text in ["", "---\n", "[]", "package: ~", "\t\tpackage:", "package:\n  name: x\n  version: 1\nsubpackages: {}\n",
                     "package:\n  name: x\n  version: 1\nsubpackages:\n  - description: nameless\n",
                     "package: &a\n  name: *a\n"] {
            XCTAssertThrowsError(try parse(text), text)
        }
    }
}
