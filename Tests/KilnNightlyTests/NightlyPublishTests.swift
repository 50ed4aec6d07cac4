import Foundation
import XCTest
import KilnRegistry
@testable import KilnNightly

/// `kiln nightly --push`: which layouts a run publishes (`NightlyLaunch.publishable`) and what
/// `NightlyLaunch.publish` refuses before it connects anywhere.
final class NightlyPublishTests: XCTestCase {
    func node(_ id: String, _ kind: NodeKind, _ status: NodeStatus, _ outputs: [OutputRecord]) -> RunReport.NodeEntry {
        RunReport.NodeEntry(id: id, kind: kind, name: id, variant: nil, file: id + ".yaml", version: "1", status: status, reasons: [],
                            blockedBy: [], start: nil, end: nil, duration: nil, log: nil, key: "k", outputs: outputs, error: nil)
    }

    func image(_ path: String, _ variant: String) -> OutputRecord {
        OutputRecord(kind: "image:" + variant, path: path, digest: "sha256:" + String(repeating: "0", count: 64), size: 1, boundary: "fail")
    }

    func report(_ nodes: [RunReport.NodeEntry]) -> RunReport {
        RunReport(runID: "r", startedAt: "t", durationSeconds: 0, kilnVersion: "v", jobs: 1, keepGoing: false, interrupted: false,
                  summary: .init(), exitStatus: 0, nodes: nodes, changes: [], repro: [])
    }

    /// Only image nodes built (so signed, audited and verified) in this run, each layout once;
    /// unchanged, failed, blocked and not-run images and package nodes are left alone.
    func testOnlyImagesBuiltInThisRunArePublished() {
        let apk = OutputRecord(kind: "apk", path: "packages/x86_64/a-1-r0.apk", digest: "sha256:1", size: 1)
        let r = report([
            node("a", .package, .built, [apk]),
            node("image:new", .image, .built, [image("images/new", "standard"), image("images/new", "fips")]),
            node("image:same", .image, .unchanged, [image("images/same", "standard")]),
            node("image:broken", .image, .failed, [image("images/broken", "standard")]),
            node("image:blocked", .image, .blocked, []),
            node("image:late", .image, .notRun, []),
            node("image:also", .image, .built, [image("images/also", "standard")]),
        ])
        let p = NightlyLaunch.publishable(r)
        XCTAssertEqual(p.map(\.node), ["image:new", "image:also"])
        XCTAssertEqual(p.map(\.layout), ["images/new", "images/also"])
    }

    /// Nothing to publish: no connection is made (the registry address is closed). A layout path
    /// leaving the output directory is refused with the node named, before any push.
    func testPublishConnectsOnlyWhenThereIsSomethingAndRefusesPathsOutsideTheOutput() throws {
        var o = RegistryOptions()
        o.http.insecureLoopback = true
        o.http.timeout = 2
        let none = try NightlyLaunch.publish(report: report([node("image:same", .image, .unchanged, [image("images/same", "fips")])]),
                                             outputRoot: "/nonexistent", prefix: "127.0.0.1:1/team", options: o)
        XCTAssertTrue(none.isEmpty)
        let hostile = report([node("image:evil", .image, .built, [image("images/../../etc", "standard")])])
        XCTAssertThrowsError(try NightlyLaunch.publish(report: hostile, outputRoot: "/nonexistent", prefix: "127.0.0.1:1/team", options: o)) { e in
            XCTAssertTrue("\(e)".contains("image:evil") && "\(e)".contains("outside"), "\(e)")
        }
    }
}
