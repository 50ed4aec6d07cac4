import Foundation
import XCTest
import KilnCore
import KilnTestSupport
@testable import KilnNightly

final class NightlyEngineTests: XCTestCase {
    // a ← b ← c (build deps), d independent, e runtime-depends on a, img installs c.
    func smallCatalog() -> GenCatalog {
        GenCatalog(specs: [
            .init(name: "a", provides: ["so:liba.so.1"]),
            .init(name: "b", build: ["so:liba.so.1"]),
            .init(name: "c", build: ["b"], pipelines: ["cmake/build"]),
            .init(name: "d", pipelines: ["cmake/build"]),
            .init(name: "e", runtime: ["a"]),
            .init(name: "base", build: ["c"], pipelines: [], kind: .image),
        ])
    }

    func built(_ r: RunReport) -> Set<String> { Set(r.nodes.filter { $0.status == .built }.map(\.id)) }

    func testNothingChangedRebuildsNothing() throws {
        let out = try TestSupport.temporaryDirectory(self)
        let exec = FakeExecutor()
        let r1 = try runNightly(smallCatalog(), exec: exec, out: out)
        XCTAssertEqual(r1.report.summary.built, 6)
        XCTAssertEqual(r1.report.exitStatus, 0)
        exec.reset()
        let r2 = try runNightly(smallCatalog(), exec: exec, out: out)
        XCTAssertEqual(exec.calls, [])
        XCTAssertEqual(r2.report.summary.unchanged, 6)
        XCTAssertEqual(r2.report.summary.built, 0)
        XCTAssertEqual(r2.report.exitStatus, 0)
        XCTAssertTrue(r2.report.nodes.allSatisfy { $0.reasons == ["unchanged"] })
    }

    /// The first build finds `lib` needs so:libc.so.6, which `base-libc` turns out to provide, so
    /// `app` (built on lib) gains a key dependency no plan knew. base-libc was built before app
    /// started (its package was there for app's build root): the rerun rebuilds nothing.
    func testEdgesFoundByTheFirstBuildDoNotRebuildOnTheRerun() throws {
        let out = try TestSupport.temporaryDirectory(self)
        let exec = FakeExecutor()
        exec.discovered = ["base-libc": (["so:libc.so.6=6"], []), "lib": (["so:liblib.so.1=1"], ["so:libc.so.6"])]
        let cat = GenCatalog(specs: [.init(name: "base-libc"), .init(name: "lib"), .init(name: "app", build: ["lib"])])
        let r1 = try runNightly(cat, exec: exec, out: out, jobs: 1)
        XCTAssertEqual(exec.calls, ["base-libc", "lib", "app"], "never built and isolated: base-libc first")
        XCTAssertEqual(r1.report.summary.built, 3)
        exec.reset()
        let r2 = try runNightly(cat, exec: exec, out: out, jobs: 1)
        XCTAssertEqual(exec.calls, [])
        XCTAssertEqual(r2.report.summary.unchanged, 3)
        // A real change still reaches app through the learned edge.
        var cat2 = cat
        cat2.specs[0].recipe = "v2"
        let r3 = try runNightly(cat2, exec: exec, out: out, jobs: 1)
        XCTAssertEqual(built(r3.report), ["base-libc", "app"])
        XCTAssertEqual(r3.report.nodes.first { $0.id == "app" }!.reasons, ["dependency base-libc changed"])
    }

    /// The same, but the provider (`zlibc`, built on `base0`, so not isolated, last in id order) was
    /// built after app started: app's build root could not have had it, so the rerun rebuilds app
    /// and says why.
    func testEdgeToANodeBuiltLaterIsRebuiltOnTheRerun() throws {
        let out = try TestSupport.temporaryDirectory(self)
        let exec = FakeExecutor()
        exec.discovered = ["zlibc": (["so:libc.so.6=6"], []), "lib": (["so:liblib.so.1=1"], ["so:libc.so.6"])]
        let cat = GenCatalog(specs: [.init(name: "base0"), .init(name: "zlibc", build: ["base0"]), .init(name: "lib"),
                                     .init(name: "app", build: ["lib"])])
        _ = try runNightly(cat, exec: exec, out: out, jobs: 1)
        XCTAssertEqual(exec.calls, ["base0", "lib", "app", "zlibc"])
        exec.reset()
        let r2 = try runNightly(cat, exec: exec, out: out, jobs: 1)
        XCTAssertEqual(exec.calls, ["app"])
        XCTAssertEqual(r2.report.nodes.first { $0.id == "app" }!.reasons, ["dependency zlibc added"])
        exec.reset()
        let r3 = try runNightly(cat, exec: exec, out: out, jobs: 1)
        XCTAssertEqual(r3.report.summary.built, 0)
    }

    func testLeafChangeRebuildsExactlyItAndDependents() throws {
        let out = try TestSupport.temporaryDirectory(self)
        let exec = FakeExecutor()
        var cat = smallCatalog()
        _ = try runNightly(cat, exec: exec, out: out)
        exec.reset()
        cat.specs[0].recipe = "v2"      // a changes
        let r = try runNightly(cat, exec: exec, out: out)
        // b and c build on a (c through b); the image installs c. e only needs a at runtime: its
        // bytes cannot change, so it is not rebuilt; d is independent.
        XCTAssertEqual(exec.callSet, ["a", "b", "c", "image:base"])
        XCTAssertEqual(built(r.report), ["a", "b", "c", "image:base"])
        let byID = Dictionary(uniqueKeysWithValues: r.report.nodes.map { ($0.id, $0) })
        XCTAssertEqual(byID["a"]!.reasons, ["recipe changed"])
        XCTAssertEqual(byID["b"]!.reasons, ["dependency a changed"])
        XCTAssertEqual(byID["c"]!.reasons, ["dependency b changed"])
        XCTAssertEqual(byID["d"]!.status, .unchanged)
        XCTAssertEqual(byID["e"]!.status, .unchanged)
        // what changed since the last run: a's output digest moved
        XCTAssertTrue(r.report.changes.contains { $0.node == "a" && $0.what == "digest" })
    }

    func testPipelineChangeRebuildsEveryUser() throws {
        let out = try TestSupport.temporaryDirectory(self)
        let exec = FakeExecutor()
        var cat = smallCatalog()
        _ = try runNightly(cat, exec: exec, out: out)
        exec.reset()
        cat.pipelineDigests["cmake/build"] = "c2"
        let r = try runNightly(cat, exec: exec, out: out)
        // c and d use cmake/build; the image installs c.
        XCTAssertEqual(exec.callSet, ["c", "d", "image:base"])
        let c = r.report.nodes.first { $0.id == "c" }!
        XCTAssertEqual(c.reasons, ["pipeline:cmake/build changed"])
    }

    func testMissingOutputIsRebuilt() throws {
        let out = try TestSupport.temporaryDirectory(self)
        let exec = FakeExecutor()
        let r1 = try runNightly(smallCatalog(), exec: exec, out: out)
        let d = r1.report.nodes.first { $0.id == "d" }!
        try FileManager.default.removeItem(atPath: out + "/" + d.outputs[0].path)
        exec.reset()
        let r2 = try runNightly(smallCatalog(), exec: exec, out: out)
        XCTAssertEqual(exec.callSet, ["d"])
        XCTAssertEqual(r2.report.nodes.first { $0.id == "d" }!.reasons, ["output missing: \(d.outputs[0].path)"])
    }

    func testFailureBlocksDependentsAndOthersContinue() throws {
        let out = try TestSupport.temporaryDirectory(self)
        let exec = FakeExecutor()
        exec.failing = ["b"]
        let r = try runNightly(smallCatalog(), exec: exec, out: out, jobs: 2, keepGoing: true)
        let byID = Dictionary(uniqueKeysWithValues: r.report.nodes.map { ($0.id, $0) })
        XCTAssertEqual(byID["b"]!.status, .failed)
        XCTAssertTrue(byID["b"]!.error!.contains("build step failed"), byID["b"]!.error!)
        XCTAssertEqual(byID["c"]!.status, .blocked)
        XCTAssertEqual(byID["c"]!.blockedBy, ["b"])
        XCTAssertEqual(byID["image:base"]!.status, .blocked)
        XCTAssertEqual(byID["image:base"]!.blockedBy, ["b"])
        for ok in ["a", "d", "e"] { XCTAssertEqual(byID[ok]!.status, .built, ok) }
        XCTAssertFalse(exec.callSet.contains("c"))
        XCTAssertEqual(r.report.summary, .init(total: 6, built: 3, unchanged: 0, failed: 1, blocked: 2, notRun: 0))
        XCTAssertEqual(r.report.exitStatus, 1)
        // the failure's log holds the error
        let log = try String(contentsOfFile: r.directory + "/" + byID["b"]!.log!, encoding: .utf8)
        XCTAssertTrue(log.contains("kiln: error:") && log.contains("build step failed"), log)
        // the fix: next run builds the failed node and the blocked ones, nothing else
        exec.reset(); exec.failing = []
        let r2 = try runNightly(smallCatalog(), exec: exec, out: out)
        XCTAssertEqual(exec.callSet, ["b", "c", "image:base"])
        XCTAssertEqual(r2.report.exitStatus, 0)
    }

    func testWithoutKeepGoingNoNewNodeStartsAfterAFailure() throws {
        let out = try TestSupport.temporaryDirectory(self)
        let exec = FakeExecutor()
        exec.failing = ["a"]
        let r = try runNightly(smallCatalog(), exec: exec, out: out, jobs: 1, keepGoing: false)
        // one job: d first (never built, isolated: see CriticalPath.schedulePriorities), then "a",
        // which heads the longest chain, and it fails
        XCTAssertEqual(exec.calls, ["d", "a"])
        XCTAssertEqual(r.report.summary.failed, 1)
        // a's dependents (b via so:liba.so.1, c, the image, e at runtime) are blocked
        XCTAssertEqual(Set(r.report.nodes.filter { $0.status == .blocked }.map(\.id)), ["b", "c", "e", "image:base"])
        // and with d failing first, nothing else starts
        exec.reset()
        exec.failing = ["d"]
        let out2 = try TestSupport.temporaryDirectory(self)
        let r2 = try runNightly(smallCatalog(), exec: exec, out: out2, jobs: 1, keepGoing: false)
        XCTAssertEqual(exec.calls, ["d"])
        XCTAssertEqual(r2.report.nodes.filter { $0.status == .notRun }.map(\.id).sorted(), ["a", "b", "c", "e", "image:base"])
        XCTAssertEqual(r2.report.exitStatus, 1)
        XCTAssertEqual(r.report.exitStatus, 1)
    }

    func testInterruptedRunResumesWithoutRedoingFinishedNodes() throws {
        let out = try TestSupport.temporaryDirectory(self)
        let cat = GenCatalog.layered(40, width: 10)
        let exec = FakeExecutor()
        var o = NightlyOptions(outputRoot: out); o.jobs = 2; o.keepGoing = true
        let runner = NightlyRunner(loader: StaticCatalog(cat.nodes()), executor: exec, options: o)
        var started = 0
        exec.onStart = { _ in
            started += 1
            if started == 15 { runner.cancel() }     // Ctrl-C in the middle
        }
        let r1 = try runner.run()
        XCTAssertTrue(r1.report.interrupted)
        XCTAssertEqual(r1.report.exitStatus, 1)
        let finished = Set(r1.report.nodes.filter { $0.status == .built }.map(\.id))
        XCTAssertGreaterThanOrEqual(finished.count, 14)
        XCTAssertLessThan(finished.count, 40)
        XCTAssertGreaterThan(r1.report.summary.notRun, 0)
        // every finished node was stored the moment it finished
        for id in finished { XCTAssertNotNil(ResultStore(outputRoot: out).load(id), id) }

        exec.reset(); exec.onStart = nil
        let r2 = try runNightly(cat, exec: exec, out: out)
        XCTAssertEqual(exec.callSet, Set(cat.nodes().map(\.id)).subtracting(finished))
        XCTAssertEqual(exec.calls.count, 40 - finished.count, "no node built twice")
        XCTAssertEqual(r2.report.exitStatus, 0)
        XCTAssertEqual(r2.report.summary.built + r2.report.summary.unchanged, 40)
    }

    func testSchedulerRunsUpToJobsAtOnceAndRespectsDependencies() throws {
        let out = try TestSupport.temporaryDirectory(self)
        let cat = GenCatalog.layered(24, width: 6)
        let exec = FakeExecutor()
        exec.delay = 0.05
        let r = try runNightly(cat, exec: exec, out: out, jobs: 3)
        XCTAssertEqual(r.report.summary.built, 24)
        XCTAssertEqual(exec.maxRunning, 3)
        let graph = try CatalogGraph(cat.nodes())
        for (id, (start, _)) in exec.intervals {
            for d in graph.dependencyIDs(id) {
                XCTAssertLessThanOrEqual(exec.intervals[d]!.1, start, "\(id) started before \(d) finished")
            }
        }
    }

    func testOnlyBuildsTheNamedNodesAndTheirDependencies() throws {
        let out = try TestSupport.temporaryDirectory(self)
        let exec = FakeExecutor()
        let r = try runNightly(smallCatalog(), exec: exec, out: out, only: ["c"])
        XCTAssertEqual(exec.callSet, ["a", "b", "c"])
        XCTAssertEqual(r.report.summary.total, 3)
        XCTAssertThrowsError(try runNightly(smallCatalog(), exec: exec, out: out, only: ["nope"])) { e in
            XCTAssertTrue("\(e)".contains("nope"))
        }
    }

    func testDryRunPlanSaysWhatAndWhy() throws {
        let out = try TestSupport.temporaryDirectory(self)
        let exec = FakeExecutor()
        _ = try runNightly(smallCatalog(), exec: exec, out: out)
        var cat = smallCatalog()
        cat.specs[1].recipe = "v2"
        var o = NightlyOptions(outputRoot: out); o.jobs = 1
        let plan = try NightlyRunner(loader: StaticCatalog(cat.nodes()), executor: exec, options: o).plan()
        let text = plan.render()
        XCTAssertTrue(text.contains("build b 1.0-r0  (recipe changed)"), text)
        XCTAssertTrue(text.contains("build c 1.0-r0  (dependency b changed)"), text)
        XCTAssertTrue(text.contains("skip  a 1.0-r0  (unchanged)"), text)
        XCTAssertTrue(text.hasSuffix("plan: 3 to build, 3 unchanged, 6 nodes\n"), text)
        // b before c before the image
        let lines = text.split(separator: "\n").map(String.init)
        let idx = { (s: String) in lines.firstIndex { $0.contains(" \(s) ") }! }
        XCTAssertLessThan(idx("b"), idx("c")); XCTAssertLessThan(idx("c"), idx("image:base"))
    }

    func testReportFilesAndIndex() throws {
        let out = try TestSupport.temporaryDirectory(self)
        let exec = FakeExecutor()
        exec.failing = ["d"]
        let r1 = try runNightly(smallCatalog(), exec: exec, out: out)
        exec.failing = []
        let r2 = try runNightly(smallCatalog(), exec: exec, out: out)
        XCTAssertNotEqual(r1.report.runID, r2.report.runID)
        let json = try Data(contentsOf: URL(fileURLWithPath: r1.directory + "/report.json"))
        let decoded = try JSONDecoder().decode(RunReport.self, from: json)
        XCTAssertEqual(decoded.summary.failed, 1)
        XCTAssertEqual(decoded.schema, RunReport.schema)
        let html = try String(contentsOfFile: r1.directory + "/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("<span class=\"n\" id=\"count-built\">5</span>"), html)
        XCTAssertTrue(html.contains("<span class=\"n\" id=\"count-failed\">1</span>"))
        XCTAssertTrue(html.contains("<svg"))
        XCTAssertEqual(html.components(separatedBy: "<rect class=\"bar").count - 1, 6, "one bar per node that ran")
        XCTAssertFalse(html.contains("<script"))
        // no network assets: the only URL is the SVG namespace
        let urls = html.components(separatedBy: "http").count - 1
        XCTAssertEqual(urls, 1)
        let index = try String(contentsOfFile: out + "/reports/index.html", encoding: .utf8)
        XCTAssertTrue(index.contains("\(r1.report.runID)/report.html"))
        XCTAssertTrue(index.contains("\(r2.report.runID)/report.html"))
        XCTAssertLessThan(index.range(of: ">\(r2.report.runID)<")!.lowerBound, index.range(of: ">\(r1.report.runID)<")!.lowerBound,
                          "newest first")
    }

    func testReproSampleTakesAtLeastOnePackage() throws {
        let out = try TestSupport.temporaryDirectory(self)
        let exec = FakeExecutor()
        var o = NightlyOptions(outputRoot: out); o.jobs = 2; o.reproSamplePercent = 1
        let checked = LockedValue<[String]>([])
        let runner = NightlyRunner(loader: StaticCatalog(smallCatalog().nodes()), executor: exec, options: o,
                                   reproVerifier: { node, stored, _ in
            checked.withLock { $0.append(node.id) }
            XCTAssertEqual(node.kind, .package)
            return .init(node: node.id, reproducible: node.id != "a" ? true : false,
                         verdict: node.id != "a" ? "reproducible" : "NOT reproducible (1 differing entries)", differingEntries: 0)
        })
        let r = try runner.run()
        XCTAssertEqual(checked.value.count, 1)
        XCTAssertEqual(r.report.repro.count, 1)
        XCTAssertEqual(r.report.summary.reproChecked, 1)
        o.reproSamplePercent = 100
        exec.reset()
    }
}
