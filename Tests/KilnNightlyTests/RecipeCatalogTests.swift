import Foundation
import XCTest
import KilnCore
import KilnBuild
import KilnTestSupport
@testable import KilnNightly

/// Recipe files on disk → nodes (real parser, real pipeline library).
enum RecipeGen {
    static func recipe(_ name: String, version: String = "1.0", build: [String] = [], runtime: [String] = [],
                       provides: [String] = [], pipeline: String = "autoconf/make", fips: Bool = false, note: String = "") -> String {
        var s = """
        package:
          name: \(name)
          version: "\(version)"
          epoch: 0
          description: generated \(note)
          copyright:
            - license: MIT
          dependencies:
            runtime: [\(runtime.joined(separator: ", "))]
            provides: [\(provides.joined(separator: ", "))]
        environment:
          contents:
            packages: [\((["busybox"] + build).joined(separator: ", "))]
        pipeline:
          - uses: fetch
            with:
              uri: https://example.invalid/\(name)-${{package.version}}.tar.gz
              expected-sha256: \(String(repeating: "ab", count: 32))
          - uses: \(pipeline)
          - runs: echo ${{package.name}} > /dev/null

        """
        if fips {
            s += """
            options:
              fips:
                vars:
                  flavour: fips
                environment:
                  contents:
                    packages:
                      add: [openssl-fips-provider]

            """
        }
        return s
    }

    static func write(_ dir: String, _ files: [String: String]) throws {
        for (n, t) in files { try AtomicFile.write(t, to: "\(dir)/\(n).yaml") }
    }
}

final class RecipeCatalogTests: XCTestCase {
    func testRecipesBecomeNodesWithVariantsProvidesAndInputs() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try RecipeGen.write(dir, [
            "zlib": RecipeGen.recipe("zlib", version: "1.3.1", provides: ["so:libz.so.1=1.3.1"]),
            "curl": RecipeGen.recipe("curl", build: ["so:libz.so.1", "openssl>=3"], runtime: ["zlib"], fips: true),
            "openssl": RecipeGen.recipe("openssl", pipeline: "cmake/build"),
        ])
        try AtomicFile.write("patch body\n", to: dir + "/curl/fix.patch")
        let nodes = try RecipeCatalogLoader(directory: dir).load()
        XCTAssertEqual(nodes.map(\.id).sorted(), ["curl", "curl@fips", "openssl", "zlib"])
        let g = try CatalogGraph(nodes)
        XCTAssertEqual(g.dependencyIDs("curl"), ["openssl", "zlib"])
        XCTAssertTrue(Set(g.external["curl@fips"] ?? []).isSuperset(of: ["busybox", "openssl-fips-provider"]), "\(g.external)")
        XCTAssertFalse(g.external["curl"]?.contains("openssl-fips-provider") ?? true)
        let curl = nodes.first { $0.id == "curl" }!
        let names = Set(curl.inputs.map(\.name))
        for n in ["recipe", "expanded", "pipeline:autoconf/make", "pipeline:fetch", "arch", "toolchain",
                  "source:https://example.invalid/curl-1.0.tar.gz", "files:curl/"] {
            XCTAssertTrue(names.contains(n), "\(n) missing from \(names.sorted())")
        }
        XCTAssertEqual(curl.inputs.first { $0.name.hasPrefix("source:") }!.digest, "sha256:" + String(repeating: "ab", count: 32))
        XCTAssertEqual(curl.version, "1.0-r0")
        let zlib = nodes.first { $0.id == "zlib" }!
        XCTAssertTrue(zlib.provides.contains("so:libz.so.1"))
        XCTAssertNotNil(zlib.payload as? RecipeNodePayload)
    }

    func testChangesToRecipesPatchesAndPipelinesShowAsReasons() throws {
        let dir = try TestSupport.temporaryDirectory(self), out = try TestSupport.temporaryDirectory(self)
        let pipes = try TestSupport.temporaryDirectory(self)
        try AtomicFile.write("name: mine\npipeline:\n  - runs: echo one\n", to: pipes + "/mine.yaml")
        try RecipeGen.write(dir, [
            "a": RecipeGen.recipe("a", provides: ["so:liba.so.1"]),
            "b": RecipeGen.recipe("b", build: ["so:liba.so.1"], pipeline: "mine"),
            "c": RecipeGen.recipe("c"),
        ])
        try AtomicFile.write("v1\n", to: dir + "/c/fix.patch")
        let exec = FakeExecutor()
        func run() throws -> [String: RunReport.NodeEntry] {
            exec.reset()
            var o = NightlyOptions(outputRoot: out); o.jobs = 2; o.keepGoing = true
            let r = try NightlyRunner(loader: RecipeCatalogLoader(directory: dir, pipelineDirectories: [pipes],
                                                                  cacheFile: out + "/nightly/catalog-cache.json"),
                                      executor: exec, options: o).run()
            return Dictionary(uniqueKeysWithValues: r.report.nodes.map { ($0.id, $0) })
        }
        XCTAssertEqual(try run().values.filter { $0.status == .built }.count, 3)
        XCTAssertEqual(try run().values.filter { $0.status == .built }.count, 0, "nothing changed")
        try RecipeGen.write(dir, ["a": RecipeGen.recipe("a", provides: ["so:liba.so.1"], note: "new")])
        var r = try run()
        XCTAssertEqual(exec.callSet, ["a", "b"])
        XCTAssertEqual(r["a"]!.reasons, ["recipe changed"])
        XCTAssertEqual(r["b"]!.reasons, ["dependency a changed"])
        try AtomicFile.write("name: mine\npipeline:\n  - runs: echo two\n", to: pipes + "/mine.yaml")
        r = try run()
        XCTAssertEqual(exec.callSet, ["b"])
        XCTAssertEqual(r["b"]!.reasons, ["pipeline:mine changed"])
        try AtomicFile.write("v2\n", to: dir + "/c/fix.patch")
        r = try run()
        XCTAssertEqual(exec.callSet, ["c"])
        XCTAssertEqual(r["c"]!.reasons, ["files:c/ changed"])
    }

    /// The recipe's own folder (`NAME/`, e.g. a patch only the fips build applies) is an input of
    /// every variant, and a cached catalog keys a fips node exactly as a fresh parse does (it used to
    /// look for `NAME-fips/` on a cache hit, so every rerun rebuilt the fips variant).
    func testRecipeFolderKeysTheFIPSVariantTheSameFromTheCache() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try RecipeGen.write(dir, ["demo": RecipeGen.recipe("demo", fips: true)])
        try FileManager.default.createDirectory(atPath: dir + "/demo", withIntermediateDirectories: true)
        try AtomicFile.write("--- a\n+++ b\n", to: dir + "/demo/fips.patch")
        let cache = dir + "/out/catalog-cache.json"
        let fresh = try RecipeCatalogLoader(directory: dir, cacheFile: cache).load()
        let cached = try RecipeCatalogLoader(directory: dir, cacheFile: cache).load()
        for id in ["demo", "demo@fips"] {
            let a = try XCTUnwrap(fresh.first { $0.id == id }), b = try XCTUnwrap(cached.first { $0.id == id })
            XCTAssertTrue(a.inputs.contains { $0.name == "files:demo/" }, "\(id): \(a.inputs.map(\.name))")
            XCTAssertEqual(a.inputs, b.inputs, id)
        }
        // A variant's own folder, when there is one, is the one its build uses and the one keyed.
        try FileManager.default.createDirectory(atPath: dir + "/demo-fips", withIntermediateDirectories: true)
        try AtomicFile.write("x\n", to: dir + "/demo-fips/only.patch")
        let again = try RecipeCatalogLoader(directory: dir, cacheFile: cache).load()
        XCTAssertTrue(try XCTUnwrap(again.first { $0.id == "demo@fips" }).inputs.contains { $0.name == "files:demo-fips/" })
    }

    func testStripConstraint() {
        XCTAssertEqual(RecipeCatalogLoader.stripConstraint("openssl>=3.0"), "openssl")
        XCTAssertEqual(RecipeCatalogLoader.stripConstraint("so:libz.so.1=1.3"), "so:libz.so.1")
        XCTAssertEqual(RecipeCatalogLoader.stripConstraint("busybox~1.36"), "busybox")
        XCTAssertEqual(RecipeCatalogLoader.stripConstraint("!conflict"), "")
        XCTAssertEqual(RecipeCatalogLoader.stripConstraint("name@edge"), "name")
    }

    /// The issue's benchmark: 500 generated recipes, nothing changed → about a second.
    func testBenchmarkFiveHundredRecipesNothingChanged() throws {
        let dir = try TestSupport.temporaryDirectory(self), out = try TestSupport.temporaryDirectory(self)
        var files: [String: String] = [:]
        for i in 0..<500 {
            let deps = i >= 50 ? [String(format: "pkg%03d", i - 50)] + (i % 3 == 0 ? [String(format: "pkg%03d", i - 49)] : []) : []
            files[String(format: "pkg%03d", i)] = RecipeGen.recipe(String(format: "pkg%03d", i), build: deps,
                                                                   pipeline: i % 2 == 0 ? "autoconf/make" : "cmake/build")
        }
        try RecipeGen.write(dir, files)
        let exec = FakeExecutor()
        var o = NightlyOptions(outputRoot: out); o.jobs = 2
        let loader = RecipeCatalogLoader(directory: dir, cacheFile: out + "/nightly/catalog-cache.json")
        _ = try NightlyRunner(loader: loader, executor: exec, options: o).run()
        XCTAssertEqual(exec.calls.count, 500)
        exec.reset()
        var t = Date()
        let nodes = try loader.load()
        print("  load+parse \(nodes.count) nodes: \(String(format: "%.3f", Date().timeIntervalSince(t))) s")
        t = Date()
        let plan = try Planner.plan(graph: try CatalogGraph(nodes), store: ResultStore(outputRoot: out))
        print("  graph+keys+plan: \(String(format: "%.3f", Date().timeIntervalSince(t))) s (\(plan.toBuild) to build)")
        t = Date()
        let r = try NightlyRunner(loader: loader, executor: exec, options: o).run()
        let secs = Date().timeIntervalSince(t)
        print("nightly benchmark (500 generated recipe files, nothing changed): \(String(format: "%.3f", secs)) s")
        XCTAssertEqual(r.report.summary.unchanged, 500)
        XCTAssertEqual(exec.calls, [])
        XCTAssertLessThan(secs, 10, "debug build on a shared machine; the release figure is in the README")
    }
}
