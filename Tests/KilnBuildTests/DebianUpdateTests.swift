import Foundation
import KilnBuild
import KilnCore
import KilnTestSupport
import XCTest

/// Sources pinned by content (DebianSources.swift) and `kiln update` (RecipeUpdate.swift) against an
/// archive the test controls; the bumped recipe is then built for real in the sandbox.
final class DebianUpdateTests: XCTestCase {
    var dir = ""
    let quiet = Progress(quiet: true)

    override func setUpWithError() throws { dir = try TestSupport.temporaryDirectory(self) }

    /// An archive whose source package `hello` has Debian revisions 1.2-1 (gone later) and the given others.
    func archive(_ versions: [(String, String)]) throws -> FakeDebianArchive {
        let a = FakeDebianArchive(published: [:], pool: dir + "/pool")
        for (debian, upstream) in versions {
            let (tarball, _) = try SandboxBuildTests.makeProject(in: dir + "/src-\(debian)", version: upstream)
            a.sources["hello", default: []].append((debian, "hello_\(upstream).orig.tar.gz", tarball))
        }
        return a
    }

    func sha(_ a: FakeDebianArchive, _ version: String) throws -> String {
        try SourceCache.sha256(of: a.sources["hello"]!.first { $0.version == version }!.path)
    }

    func testAGoneRevisionWithTheSameOrigDigestIsFetchedFromTheCurrentRevision() throws {
        try FileManager.default.createDirectory(atPath: dir + "/src-old", withIntermediateDirectories: true)
        let a = try archive([("1.2-2+deb12u1", "1.2")])   // 1.2-1 is gone; its orig file is the same bytes
        let pin = try sha(a, "1.2-2+deb12u1")
        let list = try DebianSourceList.parse("# comment\nsource hello 1.2-1 hello_1.2.orig.tar.gz \(pin)\n", path: dir + "/debian-sources.txt")
        let lines = ToolchainDriftTests.Lines()
        let cache = SourceCache(root: dir + "/cache")
        let f = DebianSourceFetcher(list: list, cache: cache, archive: a, progress: Progress(sink: { lines.add($0) }))
        XCTAssertEqual(try f.fetchMissing(), 1)
        XCTAssertTrue(FileManager.default.fileExists(atPath: cache.path(sha256: pin)))
        XCTAssertTrue(lines.text.contains("hello=1.2-1 is gone") && lines.text.contains("1.2-2+deb12u1 carries the same hello_1.2.orig.tar.gz"), lines.text)
        XCTAssertEqual(try f.fetchMissing(), 0, "a rerun asks nothing")
    }

    func testAWrongDigestIsRefusedByNameAndNamesTheRecipe() throws {
        let a = try archive([("1.2-2", "1.2")])
        let wrong = String(repeating: "ab", count: 32)
        try FileManager.default.createDirectory(atPath: dir + "/recipes", withIntermediateDirectories: true)
        try "package:\n  name: hello\n# pins \(wrong)\n".write(toFile: dir + "/recipes/hello.yaml", atomically: true, encoding: .utf8)
        let list = try DebianSourceList.parse("source hello 1.2-1 hello_1.2.orig.tar.gz \(wrong)\n", path: dir + "/recipes/debian-sources.txt")
        let f = DebianSourceFetcher(list: list, cache: SourceCache(root: dir + "/cache"), archive: a, recipesDirectory: dir + "/recipes", progress: quiet)
        XCTAssertThrowsError(try f.fetchMissing()) { e in
            let s = "\(e)"
            XCTAssertTrue(e is PinnedFileGone, s)
            XCTAssertTrue(s.contains("debian-sources.txt:1") && s.contains("hello_1.2.orig.tar.gz") && s.contains("refused"), s)
            XCTAssertTrue(s.contains("recipes/hello.yaml") && s.contains("kiln update hello"), s)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/cache/sha256/\(wrong)"))
    }

    func testBinaryImportsAreFoundByTheirDebDigest() throws {
        let a = FakeDebianArchive(published: ["libfoo1": "2.0-3+deb12u4"], pool: dir + "/pool")
        let pin = try SourceCache.sha256(of: try a.deb("libfoo1", "2.0-3+deb12u4"))
        let list = try DebianSourceList.parse("binary libfoo1 2.0-3+deb12u4 libfoo1_2.0-3+deb12u4_amd64.deb \(pin)\n", path: "l.txt")
        let cache = SourceCache(root: dir + "/cache")
        XCTAssertEqual(try DebianSourceFetcher(list: list, cache: cache, archive: a, progress: quiet).fetchMissing(), 1)
        a.published["libfoo1"] = "2.0-3+deb12u5"   // the pinned .deb is gone
        let gone = DebianSourceFetcher(list: list, cache: SourceCache(root: dir + "/cache2"), archive: a, progress: quiet)
        XCTAssertThrowsError(try gone.fetchMissing()) { e in
            XCTAssertTrue("\(e)".contains("2.0-3+deb12u5") && "\(e)".contains("kiln update"), "\(e)")
        }
    }

    func testVersionMappings() {
        XCTAssertEqual(DebianVersion.upstream("1:1.2.13.dfsg-1+deb12u1"), "1.2.13.dfsg")
        XCTAssertEqual(DebianVersion.recipeVersion(upstream: "1.2.13.dfsg"), "1.2.13")
        XCTAssertEqual(DebianVersion.recipeVersion(importing: "2.36-9+deb12u14"), "2.36.9.14")
        XCTAssertEqual(DebianVersion.recipeVersion(importing: "12.2.0-14+deb12u1"), "12.2.0.14.1")
        XCTAssertEqual(DebianVersion.recipeVersion(importing: "20250419~deb12u2"), "20250419.2")
        XCTAssertEqual(try DebianVersion.newest(["1.2-1", "1:0.9-1", "1.10-1"]), "1:0.9-1")
        XCTAssertEqual(try DebianVersion.newest(["1.2-1", "1.10-1", "1.9-3"]), "1.10-1")
    }

    /// A recipe pinned one upstream version back: update proposes the bump; --write changes only the
    /// version/epoch/digest/URI lines, and the result builds in the sandbox.
    func testUpdateProposesTheBumpAndWriteProducesARecipeThatBuilds() throws {
        let a = try archive([("1.2-1", "1.2"), ("1.3-1", "1.3")])
        let (old, new) = (try sha(a, "1.2-1"), try sha(a, "1.3-1"))
        let recipes = dir + "/recipes"
        try FileManager.default.createDirectory(atPath: recipes, withIntermediateDirectories: true)
        let text = """
        # hello from Debian's orig tarball (comments and layout are kept)
        package:
          name: hello
          version: "1.2"
          epoch: 3   # bumped by hand once
          description: a greeting
          copyright:
            - license: MIT

        pipeline:
          - uses: fetch
            with:
              uri: https://example.invalid/hello-1.2.tar.gz
              expected-sha256: \(old)
          - uses: autoconf/configure
          - uses: autoconf/make
          - uses: autoconf/make-install

        """
        try text.write(toFile: recipes + "/hello.yaml", atomically: true, encoding: .utf8)
        try "# kind package version file sha256\nsource    hello   1.2-1   hello_1.2.orig.tar.gz   \(old)\n"
            .write(toFile: recipes + "/debian-sources.txt", atomically: true, encoding: .utf8)
        let cache = SourceCache(root: dir + "/cache")
        let updater = RecipeUpdater(list: try DebianSourceList.load(recipes + "/debian-sources.txt"), cache: cache, archive: a, progress: quiet)
        let plan = try updater.plan(RecipeUpdater.recipeFiles(in: recipes))
        XCTAssertEqual(plan.count, 1)
        XCTAssertEqual(plan[0].action, .bump)
        XCTAssertEqual(plan[0].newVersion, "1.3")
        XCTAssertEqual(plan[0].available, "1.3-1")
        XCTAssertTrue(RecipeUpdater.table(plan).contains("bump to 1.3"), RecipeUpdater.table(plan))

        try updater.write(plan)
        let after = try String(contentsOfFile: recipes + "/hello.yaml", encoding: .utf8)
        let a0 = text.split(separator: "\n", omittingEmptySubsequences: false), a1 = after.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(a0.count, a1.count)
        let changed = zip(a0, a1).filter { $0 != $1 }.map { String($0.1).trimmingCharacters(in: .whitespaces) }
        XCTAssertEqual(changed, ["version: \"1.3\"", "epoch: 0", "uri: https://example.invalid/hello-1.3.tar.gz", "expected-sha256: \(new)"])
        let list = try String(contentsOfFile: recipes + "/debian-sources.txt", encoding: .utf8)
        XCTAssertEqual(list, "# kind package version file sha256\nsource    hello   1.3-1   hello_1.3.orig.tar.gz   \(new)\n")
        XCTAssertTrue(FileManager.default.fileExists(atPath: cache.path(sha256: new)), "the new file is in the source cache")
        XCTAssertEqual(try RecipeUpdater(list: try DebianSourceList.load(recipes + "/debian-sources.txt"), cache: cache, archive: a, progress: quiet)
                        .plan([recipes + "/hello.yaml"]).first?.action, .upToDate)

        var req = BuildRequest(recipePath: recipes + "/hello.yaml", outputDirectory: dir + "/out", arch: "x86_64")
        req.sourceCache = cache.root
        req.download = false
        req.sourceDateEpoch = 1_700_000_000
        let r = try Builder(progress: quiet).build(req)
        XCTAssertEqual(r.package.version, "1.3")
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: dir + "/out/trees/x86_64/hello/usr/bin/hello"))
    }

    func testFIPSModulesAreHeldAndUpstreamOnlyRecipesHaveNoFeed() throws {
        let a = try archive([("1.2-1", "1.2"), ("1.3-1", "1.3")])
        let old = try sha(a, "1.2-1")
        let recipes = dir + "/recipes"
        try FileManager.default.createDirectory(atPath: recipes, withIntermediateDirectories: true)
        try "package:\n  name: openssl-fips-provider\n  version: \"1.2\"\n  epoch: 0\npipeline:\n  - uses: fetch\n    with:\n      uri: https://example.invalid/hello-1.2.tar.gz\n      expected-sha256: \(old)\n"
            .write(toFile: recipes + "/openssl-fips-provider.yaml", atomically: true, encoding: .utf8)
        try "package:\n  name: upstream\n  version: \"1\"\n  epoch: 0\npipeline:\n  - uses: fetch\n    with:\n      uri: https://example.invalid/u-1.tar.gz\n      expected-sha256: \(String(repeating: "0", count: 64))\n"
            .write(toFile: recipes + "/upstream.yaml", atomically: true, encoding: .utf8)
        try "source hello 1.2-1 hello_1.2.orig.tar.gz \(old)\n".write(toFile: recipes + "/debian-sources.txt", atomically: true, encoding: .utf8)
        let u = RecipeUpdater(list: try DebianSourceList.load(recipes + "/debian-sources.txt"), cache: SourceCache(root: dir + "/c"), archive: a, progress: quiet)
        let plan = try u.plan(RecipeUpdater.recipeFiles(in: recipes))
        XCTAssertEqual(plan.map(\.action), [.hold, .noFeed])
        XCTAssertEqual(try u.write(plan), [])
    }
}
