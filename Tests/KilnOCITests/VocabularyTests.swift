import Foundation
import KilnOCI
import KilnTestSupport
import XCTest
@testable import KilnOCI

final class OCIVocabularyTests: XCTestCase {
    func testDigestsAreValidatedBeforeTheyBecomePaths() throws {
        let hex = String(repeating: "a", count: 64)
        XCTAssertEqual(try OCIDigest(parsing: "sha256:" + hex, source: "t").blobPath(inLayout: "/l"), "/l/blobs/sha256/" + hex)
        // KilnRepro used to build `blobs/<algorithm>/<hex>` from any `algo:hex` digest.
        for bad in ["../../etc:abcd", "sha512:" + hex, "sha256:" + String(repeating: "A", count: 64), "sha256:../../x", "sha256:" + hex + "/"] {
            XCTAssertThrowsError(try OCIDigest(parsing: bad, source: "index.json"), bad) { e in
                XCTAssertTrue("\(e)".contains("index.json"), "\(e)")
            }
        }
    }

    func testLayoutReferenceKeepsColonsInLayoutPaths() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let layout = dir + "/a:b"
        try FileManager.default.createDirectory(atPath: layout, withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: URL(fileURLWithPath: layout + "/oci-layout"))
        // `kiln run` used to split at the first `:` (layout `…/a`, tag `b:latest`).
        XCTAssertEqual(try LayoutReference.parse(layout + ":latest"), LayoutReference(layout: layout, tag: "latest"))
        XCTAssertEqual(try LayoutReference.parse(layout), LayoutReference(layout: layout, tag: nil))
        XCTAssertThrowsError(try LayoutReference.parse(dir + "/missing:tag"))
    }
}
