import Foundation
import XCTest
import KilnCore
@testable import KilnNightly

final class GraphTests: XCTestCase {
    func testCycleErrorNamesEveryNodeInTheCycle() throws {
        let cat = GenCatalog(specs: [
            .init(name: "alpha", build: ["gamma"]),
            .init(name: "beta", build: ["alpha"]),
            .init(name: "gamma", build: ["cmd:beta"]),
            .init(name: "betaprovider", provides: []),
            .init(name: "delta", build: ["alpha"]),
        ])
        var nodes = cat.nodes()
        nodes[1].provides = ["cmd:beta"]
        XCTAssertThrowsError(try CatalogGraph(nodes)) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("dependency cycle: alpha → gamma → beta → alpha"), text)
            for f in ["recipes/alpha.yaml", "recipes/beta.yaml", "recipes/gamma.yaml"] { XCTAssertTrue(text.contains(f), text) }
            XCTAssertFalse(text.contains("delta"), text)
        }
    }

    func testVariantsResolveToTheSameVariantFirst() throws {
        let cat = GenCatalog(specs: [
            .init(name: "openssl"),
            .init(name: "openssl", variant: "fips"),
            .init(name: "curl", build: ["openssl"]),
            .init(name: "curl", build: ["openssl"], variant: "fips"),
            .init(name: "zlib"),
            .init(name: "base", build: ["curl", "zlib"], kind: .image),
            .init(name: "base", build: ["curl", "zlib"], variant: "fips", kind: .image),
        ])
        let g = try CatalogGraph(cat.nodes())
        XCTAssertEqual(g.dependencyIDs("curl@fips"), ["openssl@fips"])
        XCTAssertEqual(g.dependencyIDs("curl"), ["openssl"])
        XCTAssertEqual(g.dependencyIDs("image:base@fips"), ["curl@fips", "zlib"])
        XCTAssertEqual(g.order.firstIndex(of: "openssl@fips")! < g.order.firstIndex(of: "curl@fips")!, true)
        let keys = try InputKeys.compute(g)
        XCTAssertNotEqual(keys["curl"]!.key, keys["curl@fips"]!.key)
        XCTAssertEqual(keys["curl@fips"]!.components["variant"], "fips")
    }

    func testUnprovidedNamesAreExternalAndSelfProvidesIgnored() throws {
        let cat = GenCatalog(specs: [.init(name: "a", build: ["build-base", "so:liba.so"], provides: ["so:liba.so"])])
        let g = try CatalogGraph(cat.nodes())
        XCTAssertEqual(g.external["a"], ["build-base"])
        XCTAssertEqual(g.dependencyIDs("a"), [])
    }

    func testImageKeyFollowsRuntimeClosureOfInstalledPackages() throws {
        var cat = GenCatalog(specs: [
            .init(name: "lib"), .init(name: "app", runtime: ["lib"]),
            .init(name: "img", build: ["app"], kind: .image),
        ])
        let k1 = try InputKeys.compute(try CatalogGraph(cat.nodes()))
        XCTAssertEqual(k1["image:img"]!.dependencies.keys.sorted(), ["app", "lib"])
        cat.specs[0].recipe = "v2"
        let k2 = try InputKeys.compute(try CatalogGraph(cat.nodes()))
        XCTAssertEqual(k1["app"]!.key, k2["app"]!.key, "a runtime dependency does not change a package's bytes")
        XCTAssertNotEqual(k1["image:img"]!.key, k2["image:img"]!.key, "but it changes the image that installs it")
        XCTAssertEqual(InputKeys.changes(from: k1["image:img"]!, to: k2["image:img"]!), ["dependency lib changed"])
    }

    func testDuplicateNodeIsAnError() {
        let cat = GenCatalog(specs: [.init(name: "a"), .init(name: "a")])
        XCTAssertThrowsError(try CatalogGraph(cat.nodes())) { e in XCTAssertTrue("\(e)".contains("both define a")) }
    }

    func testKeysAreStableAndOrderIndependent() throws {
        let cat = GenCatalog.layered(60, width: 10)
        let k1 = try InputKeys.compute(try CatalogGraph(cat.nodes()))
        let k2 = try InputKeys.compute(try CatalogGraph(cat.nodes().reversed()))
        XCTAssertEqual(k1.mapValues(\.key), k2.mapValues(\.key))
        XCTAssertEqual(Set(k1.values.map(\.key)).count, 60)
        XCTAssertTrue(k1.values.allSatisfy { $0.key.count == 64 })
    }
}
