import Foundation
import KilnRecipe
import KilnTestSupport
import XCTest

/// The FIPS variant's package semantics (FIPSVariant.swift) on the repository's real recipes.
final class FIPSVariantTests: XCTestCase {
    func load(_ name: String) throws -> Recipe {
        try RecipeParser().parse(path: TestSupport.packageRoot + "/recipes/\(name).yaml").recipe
    }

    func testCurlFIPSVariantRenamesAndDependsOnTheModule() throws {
        let std = try load("curl")
        XCTAssertEqual(std.variant, "standard")
        XCTAssertFalse(std.environment.packages.contains("openssl-fips-provider"))
        let fips = try std.applying(buildOption: "fips")
        XCTAssertEqual(fips.variant, "fips")
        XCTAssertEqual(fips.packageNames, ["curl-fips", "libcurl4-fips", "curl-dev-fips"])
        XCTAssertTrue(fips.environment.packages.contains("openssl-fips-provider"))
        XCTAssertTrue(fips.environment.packages.contains("openssl-config-fips"))
        XCTAssertTrue(fips.environment.packages.contains("openssl-dev"))
        // Runtime dependencies on the recipe's own packages follow the rename; the module is required.
        XCTAssertEqual(fips.package.dependencies.runtime, ["libcurl4-fips", "openssl-fips-provider", "openssl-config-fips"])
        XCTAssertEqual(fips.package.dependencies.replaces, ["curl"])
        let dev = try XCTUnwrap(fips.subpackages.first { $0.name == "curl-dev-fips" })
        XCTAssertEqual(dev.dependencies.runtime, ["libcurl4-fips", "openssl-fips-provider", "openssl-config-fips"])
        XCTAssertEqual(dev.dependencies.replaces, ["curl-dev"])
        // The variant option's vars apply too.
        XCTAssertEqual(fips.vars.first { $0.name == "ssl-note" }?.value, "OpenSSL FIPS provider (fips=yes)")
    }

    func testOtherBuildOptionsDoNotRename() throws {
        let text = """
        package: {name: x, version: "1", epoch: 0}
        options:
          small: {vars: {a: b}}
        pipeline:
          - runs: "true"
        """
        let r = try RecipeParser().parse(text: text, file: "x.yaml").recipe.applying(buildOption: "small")
        XCTAssertEqual(r.packageNames, ["x"])
        XCTAssertTrue(r.package.dependencies.runtime.isEmpty)
    }

    func testRecipesWithoutAFIPSOptionRefuseTheVariant() throws {
        XCTAssertThrowsError(try load("openssl").applying(buildOption: "fips")) { e in
            XCTAssertTrue("\(e)".contains("fips"), "\(e)")
        }
    }
}
