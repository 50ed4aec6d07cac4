import Foundation
import XCTest
import KilnCore
import KilnTestSupport
@testable import KilnNightly

/// Loads the report pages in headless Chromium (Debian's `chromium`, installed by
/// `make browser-deps`) over the DevTools protocol (Tests/browser/check_page.py).
final class BrowserTests: XCTestCase {
    struct PageCheck: Decodable {
        var consoleErrors: [String]
        var consoleWarnings: [String]
        var exceptions: [String]
        var logErrors: [String]
        var ids: [String: String?]
        var title: String
    }

    func check(_ url: String, ids: [String], screenshot: String? = nil) throws -> PageCheck {
        guard Subprocess.which("chromium") != nil else {
            XCTFail("chromium is not installed: run `make browser-deps` (Debian package chromium)")
            throw XCTSkip("no chromium")
        }
        var args = [TestSupport.packageRoot + "/Tests/browser/check_page.py", url, "--ids", ids.joined(separator: ",")]
        if let screenshot { args += ["--screenshot", screenshot] }
        let r = try TestSupport.run("/usr/bin/python3", args)
        XCTAssertEqual(r.status, 0, r.out + r.err)
        return try JSONDecoder().decode(PageCheck.self, from: Data(r.out.utf8))
    }

    func testTheCheckerSeesConsoleErrorsAndFailedLoads() throws {
        // The negative control: without it a checker that never reports anything would pass.
        let dir = try TestSupport.temporaryDirectory(self)
        try """
        <!DOCTYPE html><html><head><title>bad</title></head><body><p id="n">7</p>
        <img src="missing.png"><script>console.error("boom"); undefinedFunction();</script></body></html>
        """.write(toFile: dir + "/bad.html", atomically: true, encoding: .utf8)
        let c = try check("file://\(dir)/bad.html", ids: ["n", "absent"])
        XCTAssertEqual(c.consoleErrors, ["boom"])
        XCTAssertEqual(c.exceptions.count, 1)
        XCTAssertTrue(c.logErrors.contains { $0.contains("missing.png") }, "\(c.logErrors)")
        XCTAssertEqual(c.ids["n"], "7")
        XCTAssertEqual(c.ids["absent"], .some(nil))
    }

    func testReportRendersWithoutConsoleErrorsAndShowsTheSummary() throws {
        let out = try TestSupport.temporaryDirectory(self)
        let exec = FakeExecutor()
        exec.delay = 0.02
        var cat = GenCatalog.layered(30, width: 8)
        _ = try runNightly(cat, exec: exec, out: out, jobs: 2)
        // second run: one change high up, one failure (with blocked dependents)
        cat.specs[1].recipe = "v2"
        exec.failing = ["pkg0009"]
        let (report, dir) = try runNightly(cat, exec: exec, out: out, jobs: 2)
        XCTAssertGreaterThan(report.summary.failed, 0)
        XCTAssertGreaterThan(report.summary.blocked, 0)
        XCTAssertGreaterThan(report.summary.unchanged, 0)

        let shot = NSTemporaryDirectory() + "kiln-nightly-report.png"
        let ids = ["count-total", "count-built", "count-unchanged", "count-failed", "count-blocked", "count-not-run", "exit-status"]
        let c = try check("file://\(dir)/report.html", ids: ids, screenshot: shot)
        XCTAssertEqual(c.consoleErrors, []); XCTAssertEqual(c.exceptions, []); XCTAssertEqual(c.logErrors, [])
        XCTAssertEqual(c.consoleWarnings, [])
        let s = report.summary
        XCTAssertEqual(c.ids["count-total"], "\(s.total)")
        XCTAssertEqual(c.ids["count-built"], "\(s.built)")
        XCTAssertEqual(c.ids["count-unchanged"], "\(s.unchanged)")
        XCTAssertEqual(c.ids["count-failed"], "\(s.failed)")
        XCTAssertEqual(c.ids["count-blocked"], "\(s.blocked)")
        XCTAssertEqual(c.ids["count-not-run"], "\(s.notRun)")
        XCTAssertEqual(c.ids["exit-status"], "1")
        XCTAssertEqual(c.title, "kiln nightly \(report.runID)")
        let png = try Data(contentsOf: URL(fileURLWithPath: shot))
        XCTAssertEqual(png.prefix(4), Data([0x89, 0x50, 0x4e, 0x47]))
        XCTAssertGreaterThan(png.count, 20_000, "a rendered page, not a blank one")
        print("nightly report screenshot: \(shot)")

        let idx = try check("file://\(out)/reports/index.html", ids: ["runs"])
        XCTAssertEqual(idx.consoleErrors, []); XCTAssertEqual(idx.logErrors, []); XCTAssertEqual(idx.exceptions, [])
        XCTAssertTrue(idx.ids["runs"]??.contains(report.runID) == true)
    }
}
