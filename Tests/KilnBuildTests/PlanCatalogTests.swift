import KilnBuild
import KilnCore
import KilnRecipe
import KilnTestSupport
import XCTest

/// `kiln plan` / PlanCatalog: every recipe planned on its own, results per recipe and per test block.
final class PlanCatalogTests: XCTestCase {
    func write(_ dir: String, _ name: String, _ text: String) throws {
        try text.write(toFile: "\(dir)/\(name)", atomically: true, encoding: .utf8)
    }

    func testEachRecipeIsCheckedOnItsOwnAndCategorised() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try write(dir, "good.yaml", """
            package: {name: good, version: "1.0", epoch: 0}
            options:
              fips: {vars: {x: "1"}}
            pipeline:
              - runs: echo ${{package.name}}
            test:
              pipeline:
                - uses: no/such-test-pipeline
                - runs: good --version
            """)
        try write(dir, "bad.yaml", """
            package: {name: bad, version: "1.0", epoch: 0}
            pipeline:
              - uses: no/such-pipeline
            """)
        try write(dir, "badtest.yaml", """
            package: {name: badtest, version: "1.0", epoch: 0}
            pipeline:
              - runs: true
            subpackages:
              - name: badtest-doc
                test:
                  pipeline:
                    - runs: echo ${{nothing.here}}
            """)
        try write(dir, ".yam.yaml", "gap: [x]\n")           // a formatter's config, not a recipe
        var checks: [PlanCheck] = []
        let s = try PlanCatalog.run([dir], pipelineDirectories: [], arch: "x86_64", lenient: false) { checks.append($0) }
        XCTAssertEqual(checks.map { ($0.file as NSString).lastPathComponent }, ["bad.yaml", "badtest.yaml", "good.yaml"])
        XCTAssertEqual(s.recipes, 3)
        XCTAssertEqual(s.planned, 2)
        XCTAssertEqual(s.testBlocks, 2)
        XCTAssertEqual(s.testBlocksPlanned, 1)
        let bad = checks[0], badtest = checks[1], good = checks[2]
        XCTAssertEqual(bad.failure?.category, "unknown pipeline no/such-pipeline")
        XCTAssertTrue(bad.lines[0].hasPrefix("fail\t\(dir)/bad.yaml\tunknown pipeline no/such-pipeline\t\(dir)/bad.yaml:3:11: "), bad.lines[0])
        XCTAssertTrue(badtest.planned)
        XCTAssertEqual(badtest.tests.first?.failure?.category, "unknown substitution nothing.here")
        XCTAssertTrue(badtest.lines[1].hasPrefix("test-fail\t\(dir)/badtest.yaml\tbadtest-doc\tunknown substitution nothing.here\t"), badtest.lines[1])
        XCTAssertEqual(good.variants, ["standard", "fips"])
        XCTAssertEqual(good.lines, ["ok\t\(dir)/good.yaml\tstandard,fips", "test-ok\t\(dir)/good.yaml\tgood\tskipped no/such-test-pipeline"])
        XCTAssertEqual(s.line, "recipes planned: 2/3 (66.7%); test blocks planned: 1/2 (50.0%)")
    }

    func testCategoryNamesTheKeyWithoutListIndices() {
        let e = RecipeError(.unknownKey, SourceLocation(file: "r.yaml", line: 3), "unknown key `foo` in subpackages[3].pipeline[0] (known: a)")
        XCTAssertEqual(PlanCheck.Failure.category(of: e), "unknown key foo in subpackages[].pipeline[]")
        XCTAssertEqual(PlanCheck.Failure.category(of: KilnMessage("boom")), "other: boom")
    }

    func testMissingArgumentIsAnError() {
        XCTAssertThrowsError(try PlanCatalog.recipeFiles(["/nonexistent/recipes"])) {
            XCTAssertTrue("\($0)".contains("/nonexistent/recipes: no such recipe file or directory"), "\($0)")
        }
    }

    func testPlanCommandExitsNonZeroAndPrintsSummary() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try write(dir, "bad.yaml", "package: {name: bad, version: '1'}\npipeline: [{uses: nope}]\n")
        let r = try TestSupport.kiln(["plan", dir])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.out.hasPrefix("fail\t\(dir)/bad.yaml\tunknown pipeline nope\t"), r.out)
        XCTAssertTrue(r.err.contains("kiln plan: recipes planned: 0/1 (0.0%)"), r.err)
    }
}

/// The directory library loads a pipeline when a recipe names it (melange's behaviour).
final class DirectoryPipelineLibraryTests: XCTestCase {
    func testOneBadFileFailsOnlyTheRecipesThatUseIt() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try FileManager.default.createDirectory(atPath: "\(dir)/py", withIntermediateDirectories: true)
        try "name: good\ndescription: tolerated\npipeline:\n  - runs: echo good\n".write(toFile: "\(dir)/py/good.yaml", atomically: true, encoding: .utf8)
        try "name: bad\npipeline: [unclosed\n".write(toFile: "\(dir)/bad.yaml", atomically: true, encoding: .utf8)
        let lib = try DirectoryPipelineLibrary.standard(extra: [dir])
        XCTAssertTrue(lib.names.contains("bad") && lib.names.contains("py/good") && lib.names.contains("fetch"))
        XCTAssertEqual(try lib.definition(named: "py/good")?.pipeline.count, 1)
        XCTAssertNil(try lib.definition(named: "../bad"))
        XCTAssertNil(try lib.definition(named: "nope"))
        for _ in 0..<2 {   // cached, same error each time
            XCTAssertThrowsError(try lib.definition(named: "bad")) {
                XCTAssertTrue("\($0)".hasPrefix("\(dir)/bad.yaml:"), "\($0)")
                XCTAssertTrue("\($0)".contains("pipeline `bad` (\(dir)/bad.yaml) is not valid: invalid YAML"), "\($0)")
            }
        }
        // A recipe using the good one plans; one using the bad one names the file.
        let p = RecipeParser()
        let good = try p.parse(text: "package: {name: a, version: '1'}\npipeline: [{uses: py/good}]\n", file: "a.yaml").recipe
        XCTAssertEqual(try PipelineExpander(library: lib, arch: "x86_64").plan(good).steps.first?.script, "echo good")
        let bad = try p.parse(text: "package: {name: b, version: '1'}\npipeline: [{uses: bad}]\n", file: "b.yaml").recipe
        XCTAssertThrowsError(try PipelineExpander(library: lib, arch: "x86_64").plan(bad)) {
            XCTAssertTrue("\($0)".contains("\(dir)/bad.yaml"), "\($0)")
        }
    }
}
