import Foundation
import XCTest
import KilnCore
import KilnRecipe
import KilnTestSupport
@testable import KilnBuild

/// The build log numbers the steps the recipe writes: a pipeline of several `runs:` is one step in parts.
final class StepNumberingTests: XCTestCase {
    func testAPipelineOfSeveralRunsIsOneNumberedStepInParts() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try AtomicFile.write("""
            package:
              name: demo
              version: "1.0"
              epoch: 0
              description: numbering
              copyright:
                - license: MIT
            pipeline:
              - runs: echo first
              - uses: autoconf/make-install
              - runs: echo last

            """, to: dir + "/demo.yaml")
        let recipe = try RecipeParser().parse(path: dir + "/demo.yaml").recipe
        let plan = try PipelineExpander(library: try DirectoryPipelineLibrary.standard(extra: [], lenient: false), arch: "x86_64").plan(recipe)
        let n = StepNumbering(plan.steps)
        let install = plan.steps.indices.filter { plan.steps[$0].name == "autoconf/make-install" }
        XCTAssertEqual(install.count, 2, "make-install has two runs: \(plan.steps.map(\.name))")
        XCTAssertEqual(n.total, plan.steps.count - 1)
        XCTAssertEqual(install.map { n.number[$0] }, [2, 2])
        XCTAssertEqual(install.map { n.part[$0] }, [", part 1 of 2", ", part 2 of 2"])
        XCTAssertEqual(n.number.first, 1)
        XCTAssertEqual(n.number.last, n.total)
        XCTAssertEqual(n.part.first, "")
    }
}
