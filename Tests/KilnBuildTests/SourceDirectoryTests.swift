import Foundation
import XCTest
import KilnCore
import KilnRecipe
import KilnTestSupport
@testable import KilnBuild

/// The workspace is seeded from `<recipe dir>/<package name>/` as melange does; the fips variant
/// (package renamed `NAME-fips`) looks at `NAME-fips/` first and then at the recipe's own `NAME/`.
final class SourceDirectoryTests: XCTestCase {
    func testFIPSVariantFindsTheRecipesOwnFolder() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try AtomicFile.write("""
            package:
              name: demo
              version: "1.0"
              epoch: 0
              description: seeds
              copyright:
                - license: MIT
            options:
              fips:
                vars:
                  x: y
            pipeline:
              - runs: ls

            """, to: dir + "/demo.yaml")
        let standard = try RecipeParser().parse(path: dir + "/demo.yaml").recipe
        let fips = try standard.applying(buildOption: Recipe.fipsVariant)
        XCTAssertEqual(fips.package.name, "demo-fips")
        let builder = Builder(progress: Progress(quiet: true))
        let req = BuildRequest(recipePath: dir + "/demo.yaml", outputDirectory: dir + "/out", arch: "x86_64")
        XCTAssertNil(builder.sourceDirectory(req, recipe: standard), "no folder yet")
        try FileManager.default.createDirectory(atPath: dir + "/demo", withIntermediateDirectories: true)
        XCTAssertEqual(builder.sourceDirectory(req, recipe: standard), dir + "/demo")
        XCTAssertEqual(builder.sourceDirectory(req, recipe: fips), dir + "/demo", "the fips build falls back to the recipe's folder")
        try FileManager.default.createDirectory(atPath: dir + "/demo-fips", withIntermediateDirectories: true)
        XCTAssertEqual(builder.sourceDirectory(req, recipe: fips), dir + "/demo-fips", "a variant's own folder wins")
        XCTAssertEqual(builder.sourceDirectory(req, recipe: standard), dir + "/demo")
    }
}
