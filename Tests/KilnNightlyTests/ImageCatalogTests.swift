import Foundation
import KilnTestSupport
import XCTest
@testable import KilnNightly

/// An image node's key must cover everything `ImageConfig.load` reads: the top config, every file
/// it includes, and the packages of every variant (issue 22 item 5: before, an included base config
/// or a `variants.fips.packages` entry could change without the node being rebuilt).
final class ImageCatalogTests: XCTestCase {
    func node(_ dir: String) throws -> CatalogNode {
        let nodes = try ImageCatalogLoader(directory: dir + "/images").load()
        XCTAssertEqual(nodes.count, 1)
        return try XCTUnwrap(nodes.first)
    }

    func write(_ path: String, _ text: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    func testIncludedConfigIsAnInput() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try write(dir + "/base/common.yaml", "contents:\n  packages:\n    - busybox\n")
        try write(dir + "/images/app.yaml", "include: ../base/common.yaml\nname: app\ncontents:\n  packages:\n    - hello\n")
        let before = try node(dir)
        try write(dir + "/base/common.yaml", "contents:\n  packages:\n    - busybox\n    - tzdata\n")
        let after = try node(dir)
        XCTAssertNotEqual(before.inputs, after.inputs, "changing an included config must change the image node's inputs")
        XCTAssertTrue(after.dependencies.contains { $0.name == "tzdata" }, "\(after.dependencies)")
        XCTAssertEqual(after.inputs.map(\.name), ["config", "include:../base/common.yaml"])
    }

    func testVariantOnlyPackagesAreDependencies() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try write(dir + "/images/app.yaml", "name: app\ncontents:\n  packages:\n    - hello\nvariants:\n  fips:\n    packages:\n      - fips-extra\n  standard:\n    packages:\n      - std-extra\n")
        let deps = try node(dir).dependencies.map(\.name)
        XCTAssertTrue(deps.contains("fips-extra"), "\(deps)")
        XCTAssertTrue(deps.contains("std-extra"), "\(deps)")
    }

    func testConfigWithoutIncludesKeepsItsInputs() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try write(dir + "/images/app.yaml", "name: app\ncontents:\n  packages:\n    - hello\n")
        XCTAssertEqual(try node(dir).inputs.map(\.name), ["config"])
    }
}
