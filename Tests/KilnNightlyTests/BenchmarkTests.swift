import Foundation
import XCTest
import KilnCore
import KilnTestSupport
@testable import KilnNightly

final class NightlyBenchmarkTests: XCTestCase {
    /// 500 generated nodes, nothing changed: plan + store lookups + report should take about a second.
    func testFiveHundredUnchangedNodes() throws {
        let out = try TestSupport.temporaryDirectory(self)
        let cat = GenCatalog.layered(500, width: 50)
        let exec = FakeExecutor()
        _ = try runNightly(cat, exec: exec, out: out, jobs: 2)
        exec.reset()
        let t = Date()
        let r = try runNightly(cat, exec: exec, out: out, jobs: 2)
        let secs = Date().timeIntervalSince(t)
        print("nightly benchmark (engine, 500 generated nodes, nothing changed): \(String(format: "%.3f", secs)) s")
        XCTAssertEqual(r.report.summary.unchanged, 500)
        XCTAssertEqual(exec.calls, [])
        XCTAssertLessThan(secs, 5, "a no-op run over 500 nodes must stay around a second")
    }
}
