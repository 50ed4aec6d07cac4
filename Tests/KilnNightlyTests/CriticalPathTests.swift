import Foundation
import XCTest
import KilnCore
import KilnTestSupport
@testable import KilnNightly

final class CriticalPathTests: XCTestCase {
    /// The demo's shape: three short independent nodes whose ids sort first, and a long chain
    /// openssl → python → python@fips (durations as recorded by a nightly, in minutes).
    func demoLikeCatalog() -> (GenCatalog, [String: Double]) {
        let cat = GenCatalog(specs: [
            .init(name: "a-curl"), .init(name: "b-nginx"), .init(name: "c-redis"),
            .init(name: "d-openssl"),
            .init(name: "e-python", build: ["d-openssl"]),
            .init(name: "f-python-fips", build: ["e-python"]),
        ])
        return (cat, ["a-curl": 3, "b-nginx": 3, "c-redis": 3, "d-openssl": 10, "e-python": 6, "f-python-fips": 5])
    }

    /// List scheduling on `jobs` workers: whenever a worker is free it takes the first ready node
    /// in `order`'s ranking; returns the makespan.
    func makespan(_ graph: CatalogGraph, durations: [String: Double], jobs: Int,
                  pick: ([String]) -> String) -> Double {
        var done = Set<String>(), started = Set<String>(), running: [(end: Double, id: String)] = []
        var now = 0.0
        while done.count < graph.nodes.count {
            let ready = graph.nodes.keys.filter { id in
                !started.contains(id) && graph.dependencyIDs(id).allSatisfy(done.contains)
            }
            if running.count < jobs, !ready.isEmpty {
                let id = pick(ready)
                started.insert(id); running.append((now + durations[id]!, id))
                continue
            }
            running.sort { $0.end < $1.end }
            let next = running.removeFirst()
            now = next.end; done.insert(next.id)
        }
        return now
    }

    func testPriorityIsTheHeaviestChainOfWorkBelowANode() throws {
        let (cat, durations) = demoLikeCatalog()
        let g = try CatalogGraph(cat.nodes())
        let p = CriticalPath.priorities(g, weights: durations)
        XCTAssertEqual(p["d-openssl"], 21)
        XCTAssertEqual(p["e-python"], 11)
        XCTAssertEqual(p["f-python-fips"], 5)
        XCTAssertEqual(p["a-curl"], 3)
        XCTAssertEqual(CriticalPath.order(["a-curl", "c-redis", "d-openssl", "b-nginx"], priorities: p),
                       ["d-openssl", "a-curl", "b-nginx", "c-redis"], "longest chain first, then by id")
        // A diamond: the priority follows the heavier branch only (no double counting).
        let diamond = try CatalogGraph(GenCatalog(specs: [
            .init(name: "root"), .init(name: "left", build: ["root"]), .init(name: "right", build: ["root"]),
            .init(name: "top", build: ["left", "right"]),
        ]).nodes())
        let q = CriticalPath.priorities(diamond, weights: ["root": 1, "left": 5, "right": 2, "top": 1])
        XCTAssertEqual(q["root"], 7)
    }

    /// The smallest-id order starts the long chain last; critical-path-first finishes in the
    /// chain's own length on two jobs.
    func testCriticalPathFirstBeatsSmallestIdFirstOnTwoJobs() throws {
        let (cat, durations) = demoLikeCatalog()
        let g = try CatalogGraph(cat.nodes())
        let p = CriticalPath.priorities(g, weights: durations)
        let old = makespan(g, durations: durations, jobs: 2) { $0.min()! }
        let new = makespan(g, durations: durations, jobs: 2) { CriticalPath.order($0, priorities: p)[0] }
        XCTAssertEqual(old, 24)
        XCTAssertEqual(new, 21)
    }

    /// The real scheduler, one job (so the start order is the priority order): the first run has no
    /// recorded durations and prefers the longest chain of nodes (after the isolated never-built
    /// node); the rerun weighs each node by its recorded duration, so the slow `a` goes first.
    func testSchedulerStartsTheLongestRemainingChainFirst() throws {
        let out = try TestSupport.temporaryDirectory(self)
        var cat = GenCatalog(specs: [
            .init(name: "a"), .init(name: "a2", build: ["a"]),
            .init(name: "b"), .init(name: "c", build: ["b"]), .init(name: "d", build: ["c"]),
            .init(name: "z"),
        ])
        let exec = FakeExecutor()
        _ = try runNightly(cat, exec: exec, out: out, jobs: 1)
        XCTAssertEqual(exec.calls, ["z", "b", "a", "c", "a2", "d"],
                       "z (never built, isolated) first, then the chain b → c → d; ties by id")

        let store = ResultStore(outputRoot: out)
        for (id, seconds) in ["a": 600.0, "a2": 1, "b": 5, "c": 5, "d": 5, "z": 1] {
            var r = try XCTUnwrap(store.load(id))
            r.durationSeconds = seconds
            try store.save(r)
        }
        cat.pipelineDigests["autoconf/make"] = "p2"     // every node rebuilds
        exec.reset()
        _ = try runNightly(cat, exec: exec, out: out, jobs: 1)
        XCTAssertEqual(exec.calls, ["a", "b", "c", "d", "a2", "z"], "a recorded 600 s, longer than the 15 s chain")
    }

    /// The fresh demo of 2026-12-01 20:19: glibc needs libgcc at run time, so neither was "isolated"
    /// and both ran 14th and 6th — after curl, sqlite and the FIPS provider had been built without
    /// them, so the rerun rebuilt 8 nodes ("dependency glibc added"). A separate group joined only by
    /// runtime edges now starts first; a group with a build edge keeps its critical-path order.
    func testASeparateRuntimeOnlyGroupOfImportsStartsFirst() throws {
        let out = try TestSupport.temporaryDirectory(self)
        let cat = GenCatalog(specs: [
            .init(name: "glibc", runtime: ["libgcc"]), .init(name: "libgcc"),
            .init(name: "b"), .init(name: "c", build: ["b"]), .init(name: "d", build: ["c"]),
            .init(name: "x"), .init(name: "y", build: ["x"]),
        ])
        let exec = FakeExecutor()
        _ = try runNightly(cat, exec: exec, out: out, jobs: 1)
        XCTAssertEqual(exec.calls, ["libgcc", "glibc", "b", "c", "x", "d", "y"],
                       "the runtime-only group first (libgcc before glibc, its dependency), then by remaining chain; x ← y has a build edge, so it is not an import group")
        XCTAssertEqual(CriticalPath.components(try CatalogGraph(cat.nodes())), [["b", "c", "d"], ["glibc", "libgcc"], ["x", "y"]])
    }

    func testWeightsUseRecordedDurationsAndSkipUnchangedNodes() throws {
        let g = try CatalogGraph(GenCatalog(specs: [.init(name: "x"), .init(name: "y"), .init(name: "z")]).nodes())
        let key = InputKey(key: "k", components: [:], dependencies: [:])
        func prev(_ id: String, _ s: Double) -> StoredResult {
            StoredResult(id: id, input: key, outputs: [], version: nil, runID: "r", durationSeconds: s)
        }
        let plan = Plan(graph: g, entries: [
            PlanEntry(id: "x", action: .build, reasons: [], key: key, previous: prev("x", 30)),
            PlanEntry(id: "y", action: .build, reasons: [], key: key, previous: nil),
            PlanEntry(id: "z", action: .skip, reasons: [], key: key, previous: prev("z", 90)),
        ])
        XCTAssertEqual(CriticalPath.weights(plan), ["x": 30, "y": 60, "z": 0],
                       "y has no record: the mean of the recorded ones; z is skipped: free")
    }
}
