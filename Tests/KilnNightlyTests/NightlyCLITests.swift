import Foundation
import XCTest
import KilnBuild
import KilnCore
import KilnTestSupport
@testable import KilnNightly

/// `kiln nightly` end to end: real recipes built in the sandbox, real signed packages.
final class NightlyCLITests: XCTestCase {
    static func recipe(_ name: String, deps: [String] = [], steps: String = "", note: String = "") -> String {
        """
        package:
          name: \(name)
          version: "1.0"
          epoch: 0
          description: test \(name) \(note)
          copyright:
            - license: MIT
        environment:
          contents:
            packages: [\((["busybox"] + deps).joined(separator: ", "))]
        pipeline:
          - runs: |
              mkdir -p ${{targets.destdir}}/usr/share/\(name)
              echo "\(name)" > ${{targets.destdir}}/usr/share/\(name)/info
        \(steps.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))

        """
    }

    struct Env { var dir: String; var out: String; var key: String }

    func setup(_ recipes: [String: String]) throws -> Env {
        let dir = try TestSupport.temporaryDirectory(self)
        try FileManager.default.createDirectory(atPath: dir + "/recipes/images", withIntermediateDirectories: true)
        for (n, t) in recipes { try AtomicFile.write(t, to: "\(dir)/recipes/\(n).yaml") }
        let k = try TestSupport.kiln(["keygen", "--type", "rsa", "--out", dir + "/k"])
        XCTAssertEqual(k.status, 0, k.err)
        return Env(dir: dir, out: dir + "/out", key: dir + "/k.rsa")
    }

    func nightly(_ e: Env, _ extra: [String] = []) throws -> (status: Int32, out: String, err: String) {
        try TestSupport.kiln(["nightly", "--recipes", e.dir + "/recipes", "--out", e.out, "--signing-key", e.key, "--jobs", "2"] + extra)
    }

    func latestReport(_ e: Env) throws -> RunReport {
        let runs = try JSONDecoder().decode([ReportWriter.IndexEntry].self,
                                            from: Data(contentsOf: URL(fileURLWithPath: e.out + "/reports/runs.json")))
        return try JSONDecoder().decode(RunReport.self, from: Data(contentsOf: URL(fileURLWithPath: "\(e.out)/reports/\(runs[0].runID)/report.json")))
    }

    func testBuildsThenSkipsThenRebuildsWhatChanged() throws {
        let e = try setup(["a": Self.recipe("a"), "b": Self.recipe("b", deps: ["a"]), "c": Self.recipe("c", deps: ["b"]),
                           "d": Self.recipe("d")])
        var r = try nightly(e, ["--dry-run"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("plan: 4 to build, 0 unchanged, 4 nodes"), r.out)
        r = try nightly(e)
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssertTrue(r.out.contains(": 4 built, 0 unchanged, 0 failed"), r.out)
        for n in ["a", "b", "c", "d"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(e.out)/packages/x86_64/\(n)-1.0-r0.apk"), n)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(e.out)/packages/x86_64/APKINDEX.tar.gz"))
        let first = try latestReport(e)
        XCTAssertTrue(first.nodes.allSatisfy { $0.outputs.first?.digest.hasPrefix("sha256:") == true })

        r = try nightly(e)
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.out.contains(": 0 built, 4 unchanged"), r.out)

        try AtomicFile.write(Self.recipe("b", deps: ["a"], note: "v2"), to: e.dir + "/recipes/b.yaml")
        r = try nightly(e, ["--dry-run"])
        XCTAssertTrue(r.out.contains("build b 1.0-r0  (recipe changed)"), r.out)
        XCTAssertTrue(r.out.contains("build c 1.0-r0  (dependency b changed)"), r.out)
        r = try nightly(e, ["--repro-sample", "50"])
        XCTAssertEqual(r.status, 0, r.out + r.err)
        let rep = try latestReport(e)
        XCTAssertEqual(Set(rep.nodes.filter { $0.status == .built }.map(\.id)), ["b", "c"])
        // a 50% sample of the 2 packages built: one rebuilt in a varied environment and compared
        XCTAssertEqual(rep.repro.count, 1)
        XCTAssertEqual(rep.repro.first?.verdict, "reproducible")
        XCTAssertEqual(rep.summary.reproChecked, 1)
        XCTAssertTrue(r.out.contains("repro 1/1 reproducible"), r.out)
        XCTAssertTrue(rep.changes.contains { $0.node == "b" && $0.what == "digest" }, "\(rep.changes)")
        let html = try String(contentsOfFile: "\(e.out)/reports/\(rep.runID)/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("id=\"count-built\">2<"))
        // the node's log is linked and holds the build's output
        let log = try XCTUnwrap(rep.nodes.first { $0.id == "b" }?.log)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(e.out)/reports/\(rep.runID)/\(log)"))
    }

    func testFailureBlocksDependentsKeepGoingAndExitStatus() throws {
        let e = try setup(["a": Self.recipe("a", steps: "- runs: echo broken >&2; exit 3"),
                           "b": Self.recipe("b", deps: ["a"]), "d": Self.recipe("d")])
        let r = try nightly(e, ["--keep-going"])
        XCTAssertEqual(r.status, 1, r.out + r.err)
        XCTAssertTrue(r.out.contains("1 built, 0 unchanged, 1 failed, 1 blocked"), r.out)
        XCTAssertTrue(r.out.contains("failed: a:"), r.out)
        let rep = try latestReport(e)
        let by = Dictionary(uniqueKeysWithValues: rep.nodes.map { ($0.id, $0) })
        XCTAssertEqual(by["b"]?.blockedBy, ["a"])
        XCTAssertEqual(by["d"]?.status, .built)
        let log = try String(contentsOfFile: "\(e.out)/reports/\(rep.runID)/\(by["a"]!.log!)", encoding: .utf8)
        XCTAssertTrue(log.contains("broken"), log)
    }

    func testCycleIsExitTwoAndNamesEveryRecipe() throws {
        let e = try setup(["x": Self.recipe("x", deps: ["z"]), "y": Self.recipe("y", deps: ["x"]), "z": Self.recipe("z", deps: ["y"])])
        let r = try nightly(e)
        XCTAssertEqual(r.status, 2, r.out + r.err)
        XCTAssertTrue(r.err.contains("dependency cycle: x → z → y → x"), r.err)
        for n in ["x", "y", "z"] { XCTAssertTrue(r.err.contains("recipes/\(n).yaml"), r.err) }
    }

    func testKilledRunResumesWithoutRedoingFinishedNodes() throws {
        var recipes: [String: String] = [:]
        for i in 0..<6 { recipes["s\(i)"] = Self.recipe("s\(i)", deps: i > 0 ? ["s\(i - 1)"] : [], steps: "- runs: sleep 1") }
        let e = try setup(recipes)
        // start, wait until two nodes are stored, then SIGKILL kiln
        let p = Process()
        p.executableURL = URL(fileURLWithPath: TestSupport.kilnExecutable)
        p.arguments = ["nightly", "--recipes", e.dir + "/recipes", "--out", e.out, "--signing-key", e.key, "--jobs", "1"]
        p.standardOutput = FileHandle.nullDevice; p.standardError = FileHandle.nullDevice
        try p.run()
        let state = e.out + "/nightly/state"
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let n = ((try? FileManager.default.contentsOfDirectory(atPath: state)) ?? []).filter { $0.hasSuffix(".json") }.count
            if n >= 2 { break }
            usleep(50_000)
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let done = Set(((try? FileManager.default.contentsOfDirectory(atPath: state)) ?? []).filter { $0.hasSuffix(".json") }
            .map { String($0.dropLast(5)) })
        XCTAssertGreaterThanOrEqual(done.count, 2)
        XCTAssertLessThan(done.count, 6, "the kill came too late to test anything")
        // no half-written files were left behind
        XCTAssertEqual(((try? FileManager.default.contentsOfDirectory(atPath: state)) ?? []).filter { $0.contains(".tmp-") }, [])

        let r = try nightly(e)
        XCTAssertEqual(r.status, 0, r.out + r.err)
        let rep = try latestReport(e)
        XCTAssertEqual(Set(rep.nodes.filter { $0.status == .unchanged }.map(\.id)), done)
        XCTAssertEqual(rep.summary.built, 6 - done.count)
    }

    func testImagesAreAssembledSignedAndVerifiedAfterTheirPackages() throws {
        let e = try setup(["lib": Self.recipe("lib"), "app": Self.recipe("app", deps: ["lib"]),
                           "openssl-fips-provider": Self.recipe("openssl-fips-provider"),
                           "openssl-config-fips": Self.recipe("openssl-config-fips")])
        try AtomicFile.write("contents:\n  packages:\n    - app\nentrypoint:\n  command: /bin/true\narchs: [x86_64]\n",
                             to: e.dir + "/recipes/images/svc.yaml")
        let k = try TestSupport.kiln(["keygen", "--type", "ecdsa", "--out", e.dir + "/ec"])
        XCTAssertEqual(k.status, 0, k.err)
        let args = ["--image-key", e.dir + "/ec.key"]
        var r = try nightly(e, args)
        XCTAssertEqual(r.status, 0, r.out + r.err)
        var rep = try latestReport(e)
        let img = try XCTUnwrap(rep.nodes.first { $0.id == "image:svc" })
        XCTAssertEqual(img.status, .built)
        XCTAssertEqual(Set(img.outputs.map(\.kind)), ["image:standard", "image:fips"])
        XCTAssertTrue(img.outputs.allSatisfy { $0.digest.hasPrefix("sha256:") && $0.path == "images/svc" })
        // packages before the image
        let appEnd = try XCTUnwrap(rep.nodes.first { $0.id == "app" }?.end)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(img.start), appEnd)
        let log = try String(contentsOfFile: "\(e.out)/reports/\(rep.runID)/\(img.log!)", encoding: .utf8)
        XCTAssertTrue(log.contains("verify ok  signature svc:"), log)
        XCTAssertFalse(log.contains("FAIL"), log)
        // the layout verifies with `kiln verify` too
        let v = try TestSupport.kiln(["verify", e.out + "/images/svc", "--key", e.dir + "/ec.pub"])
        XCTAssertEqual(v.status, 0, v.out + v.err)
        // each variant carries a signed FIPS boundary attestation, its verified verdict is in the report:
        // the test's provider package is a stub without fips.so, so the fips variant's audit fails
        XCTAssertEqual(img.outputs.first { $0.kind == "image:fips" }?.boundary, "fail")
        XCTAssertEqual(img.outputs.first { $0.kind == "image:standard" }?.boundary, "fail")
        XCTAssertEqual(img.boundary, "fail")
        XCTAssertNil(rep.nodes.first { $0.id == "app" }?.boundary)
        XCTAssertTrue(log.contains("fips boundary svc:1.0-r0-fips: fail"), log)
        let fipsRow = v.out.split(separator: "\n").first { $0.hasPrefix("svc:1.0-r0-fips ") }.map(String.init) ?? v.out
        XCTAssertTrue(fipsRow.contains(" fail "), fipsRow)
        let html = try String(contentsOfFile: "\(e.out)/reports/\(rep.runID)/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("<th>boundary</th>") && html.contains("<span class=\"verdict-bad\">fail</span>"), html)

        // kiln repro on the image: assembled again and compared image by image; the verdict is attached
        let rp = try TestSupport.kiln(["repro", e.dir + "/recipes/images/svc.yaml", "--out", e.out, "--signing-key", e.key,
                                       "--attest-key", e.dir + "/ec.key"])
        XCTAssertEqual(rp.status, 0, rp.out + rp.err)
        XCTAssertTrue(rp.out.contains("== svc:1.0-r0\n") && rp.out.contains("== svc:1.0-r0-fips\n"), rp.out)
        XCTAssertTrue(rp.out.hasSuffix("(also attached to each image)\nreproducible\n"), rp.out)
        let v2 = try TestSupport.kiln(["verify", e.out + "/images/svc", "--key", e.dir + "/ec.pub"])
        XCTAssertEqual(v2.status, 0, v2.out + v2.err)
        XCTAssertTrue(v2.out.contains("https://kiln.dev/attestations/repro/v1"), v2.out)

        r = try nightly(e, args)
        XCTAssertTrue(r.out.contains(": 0 built, 5 unchanged"), r.out)
        XCTAssertEqual(try latestReport(e).nodes.first { $0.id == "image:svc" }?.boundary, "fail")   // kept from the stored result
        // a package the image installs changes at runtime level only (lib is a build dep of app):
        // app is rebuilt, and so is the image that installs it
        try AtomicFile.write(Self.recipe("lib", note: "v2"), to: e.dir + "/recipes/lib.yaml")
        r = try nightly(e, args)
        XCTAssertEqual(r.status, 0, r.out + r.err)
        rep = try latestReport(e)
        XCTAssertEqual(Set(rep.nodes.filter { $0.status == .built }.map(\.id)), ["lib", "app", "image:svc"])
        XCTAssertEqual(rep.nodes.first { $0.id == "image:svc" }?.reasons, ["dependency app changed"])
    }
}

/// `kiln nightly` after `--update` bumped a recipe (the bump made through the library against an
/// archive the test controls): exactly the bumped recipe and its dependents rebuild.
final class NightlyUpdateTests: XCTestCase {
    func tarball(_ dir: String, _ version: String) throws -> String {
        let src = "\(dir)/a-\(version)"
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        try "a \(version)\n".write(toFile: src + "/data.txt", atomically: true, encoding: .utf8)
        let t = "\(dir)/a_\(version).orig.tar.gz"
        try Subprocess("tar", ["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "-czf", t, "-C", dir, "a-\(version)"]).check()
        return t
    }

    func testANightlyAfterABumpRebuildsExactlyTheBumpedRecipeAndItsDependents() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let (t1, t2) = (try tarball(dir, "1.0"), try tarball(dir, "1.1"))
        let archive = FakeDebianArchive(published: [:], pool: dir + "/pool")
        archive.sources["a"] = [("1.0-1", "a_1.0.orig.tar.gz", t1)]
        let sha1 = try SourceCache.sha256(of: t1)
        let a = """
        package:
          name: a
          version: "1.0"
          epoch: 2
          description: fed from the archive
          copyright:
            - license: MIT
        environment:
          contents:
            packages: [busybox]
        pipeline:
          - uses: fetch
            with:
              uri: https://example.invalid/a-1.0.tar.gz
              expected-sha256: \(sha1)
          - runs: |
              mkdir -p ${{targets.destdir}}/usr/share/a
              cp data.txt ${{targets.destdir}}/usr/share/a/

        """
        let recipes = dir + "/recipes"
        try FileManager.default.createDirectory(atPath: recipes + "/images", withIntermediateDirectories: true)
        try AtomicFile.write(a, to: recipes + "/a.yaml")
        try AtomicFile.write(NightlyCLITests.recipe("b", deps: ["a"]), to: recipes + "/b.yaml")
        try AtomicFile.write(NightlyCLITests.recipe("c"), to: recipes + "/c.yaml")
        try AtomicFile.write("source a 1.0-1 a_1.0.orig.tar.gz \(sha1)\n", to: recipes + "/debian-sources.txt")
        let out = dir + "/out"
        try SourceCache(root: out + "/sources").add(file: t1)
        XCTAssertEqual(try TestSupport.kiln(["keygen", "--type", "rsa", "--out", dir + "/k"]).status, 0)
        func nightly() throws -> (status: Int32, out: String, err: String) {
            try TestSupport.kiln(["nightly", "--recipes", recipes, "--out", out, "--signing-key", dir + "/k.rsa", "--offline", "--jobs", "2"])
        }
        var r = try nightly()
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssertTrue(r.out.contains(": 3 built"), r.out)

        archive.sources["a"]!.append(("1.1-1", "a_1.1.orig.tar.gz", t2))
        let updates = try NightlyUpdate.bumpRecipes(recipes: recipes, list: recipes + "/debian-sources.txt",
                                                    cache: SourceCache(root: out + "/sources"), archive: archive,
                                                    progress: Progress(quiet: true))
        XCTAssertEqual(updates, [RunReport.Update(kind: "recipe", name: "a", from: "1.0", to: "1.1")])
        r = try nightly()
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssertTrue(r.out.contains(": 2 built, 1 unchanged"), r.out)
        let runs = try JSONDecoder().decode([ReportWriter.IndexEntry].self, from: Data(contentsOf: URL(fileURLWithPath: out + "/reports/runs.json")))
        let rep = try JSONDecoder().decode(RunReport.self, from: Data(contentsOf: URL(fileURLWithPath: "\(out)/reports/\(runs[0].runID)/report.json")))
        XCTAssertEqual(Set(rep.nodes.filter { $0.status == .built }.map(\.id)), ["a", "b"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/packages/x86_64/a-1.1-r0.apk"))
    }

    func testTheReportHasAnUpdatesSection() throws {
        var report = RunReport(runID: "r", startedAt: "2026-12-01T00:00:00Z", durationSeconds: 1, kilnVersion: "t", jobs: 1,
                               keepGoing: false, interrupted: false, summary: .init(), exitStatus: 0, nodes: [], changes: [], repro: [])
        XCTAssertFalse(HTMLReport.render(report).contains("Updates"), "no section when --update was not asked")
        report.updates = [.init(kind: "recipe", name: "zlib", from: "1.2.13", to: "1.3"),
                          .init(kind: "toolchain", name: "libzstd1", from: "1.5.4+dfsg2-5 amd64", to: "1.5.4+dfsg2-5+deb12u1 amd64")]
        let html = HTMLReport.render(report)
        XCTAssertTrue(html.contains("<h2>Updates</h2>") && html.contains("zlib") && html.contains("1.5.4+dfsg2-5+deb12u1 amd64"), html)
        let json = try JSONEncoder().encode(report)
        XCTAssertEqual(try JSONDecoder().decode(RunReport.self, from: json).updates?.count, 2)
    }
}
