import Foundation
import KilnBuild
import KilnCore
import KilnRecipe
import KilnTestSupport
import XCTest

/// git-checkout `cherry-picks` and `depth`, against a real repository made by the test.
extension GitCheckoutTests {
    struct PickRepo { var path: String; var base: String; var clean: String; var conflicting: String }

    /// main: `hello.txt` (3 lines), then a commit changing line 1 (`base`, the expected-commit).
    /// Branch `fixes` (from before that change): `clean` changes line 3 and adds fix.txt;
    /// `conflicting` changes line 1 too.
    func makePickRepo(in dir: String) throws -> PickRepo {
        let repo = "\(dir)/repos/picks"
        try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
        try git(["init", "-q"], in: repo)
        try AtomicFile.write("line 1\nline 2\nline 3\n", to: "\(repo)/hello.txt")
        try git(["add", "."], in: repo); try git(["commit", "-qm", "start"], in: repo)
        try git(["branch", "fixes"], in: repo)
        try AtomicFile.write("line 1 from main\nline 2\nline 3\n", to: "\(repo)/hello.txt")
        try git(["commit", "-qam", "main changes line 1"], in: repo)
        let base = try git(["rev-parse", "HEAD"], in: repo)
        try git(["checkout", "-q", "fixes"], in: repo)
        try AtomicFile.write("line 1\nline 2\nline 3 fixed\n", to: "\(repo)/hello.txt")
        try AtomicFile.write("fixed\n", to: "\(repo)/fix.txt")
        try git(["add", "."], in: repo); try git(["commit", "-qm", "fix line 3"], in: repo)
        let clean = try git(["rev-parse", "HEAD"], in: repo)
        try AtomicFile.write("line 1 from fixes\nline 2\nline 3 fixed\n", to: "\(repo)/hello.txt")
        try git(["commit", "-qam", "fixes changes line 1"], in: repo)
        let conflicting = try git(["rev-parse", "HEAD"], in: repo)
        try git(["checkout", "-q", "main"], in: repo)
        return PickRepo(path: repo, base: base, clean: clean, conflicting: conflicting)
    }

    /// The recipe: `cherry-picks` is on line 11 (`|`), its text from line 12 on.
    func pickRecipe(_ repo: String, commit: String, picks: [String], depth: String = "1") -> String {
        """
        package:
          name: app
          version: "1"
        pipeline:
          - uses: git-checkout
            with:
              repository: \(repo)
              expected-commit: \(commit)
              depth: \(depth)
              destination: src
              cherry-picks: |
        \(picks.map { "        " + $0 }.joined(separator: "\n"))
          - runs: |
              test ! -e src/.git
              mkdir -p ${{targets.destdir}}/usr/share/app
              cp src/hello.txt ${{targets.destdir}}/usr/share/app/
              if [ -f src/fix.txt ]; then cp src/fix.txt ${{targets.destdir}}/usr/share/app/; fi
              stat -c %Y src/hello.txt > ${{targets.destdir}}/usr/share/app/mtime

        """
    }

    func testCherryPickIsAppliedAndTheBuildIsReproducible() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let r = try makePickRepo(in: dir)
        let text = pickRecipe(r.path, commit: r.base, picks: [
            "# picked from upstream", "", "fixes/\(r.clean): fix line 3  # upstream issue",
        ])
        let built = try build(dir, text, out: "\(dir)/first", cache: "\(dir)/cache", download: true)
        XCTAssertEqual(try read(built, "hello.txt"), "line 1 from main\nline 2\nline 3 fixed\n")
        XCTAssertEqual(try read(built, "fix.txt"), "fixed\n")
        XCTAssertEqual(try read(built, "mtime"), "1600000000\n")
        let log = try String(contentsOfFile: built.log, encoding: .utf8)
        XCTAssertTrue(log.contains("cherry-pick \(r.clean): fix line 3"), log)

        // The same recipe built twice (offline, from the mirror) gives byte-identical packages.
        let key = try TestSupport.kiln(["keygen", "--type", "rsa", "--out", "\(dir)/k"])
        XCTAssertEqual(key.status, 0, key.err)
        try FileManager.default.removeItem(atPath: r.path)
        var apks: [Data] = []
        for out in ["\(dir)/a", "\(dir)/b"] {
            let b = try TestSupport.kiln(["build", "\(dir)/app.yaml", "--out", out, "--source-cache", "\(dir)/cache", "--offline",
                                          "--source-date-epoch", "1600000000", "--signing-key", "\(dir)/k.rsa"])
            XCTAssertEqual(b.status, 0, b.out + b.err)
            apks.append(try Data(contentsOf: URL(fileURLWithPath: "\(out)/packages/x86_64/app-1-r0.apk")))
        }
        XCTAssertEqual(apks[0], apks[1])
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(dir)/a/trees/x86_64/app/usr/share/app/.git"))
    }

    func testCherryPickMissingFromTheMirrorSaysHowToSeedIt() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let r = try makePickRepo(in: dir)
        _ = try build(dir, pickRecipe(r.path, commit: r.base, picks: ["\(r.clean): fix"]), out: "\(dir)/out",
                      cache: "\(dir)/cache", download: true)
        // A commit made after the mirror was seeded: offline, the mirror alone must serve it.
        try git(["checkout", "-q", "fixes"], in: r.path)
        try AtomicFile.write("later\n", to: "\(r.path)/later.txt")
        try git(["add", "."], in: r.path); try git(["commit", "-qm", "later"], in: r.path)
        let later = try git(["rev-parse", "HEAD"], in: r.path)
        let text = pickRecipe(r.path, commit: r.base, picks: ["\(r.clean): fix", "fixes/\(later): a later fix"])
        XCTAssertThrowsError(try build(dir, text, out: "\(dir)/out", cache: "\(dir)/cache", download: false)) { e in
            let s = "\(e)"
            XCTAssertTrue(s.hasPrefix("\(dir)/app.yaml:13: cherry-pick \(later) (a later fix) is not in the git cache's mirror of \(r.path)"), s)
            XCTAssertTrue(s.contains("`kiln source add-git \(r.path) PATH_OR_BUNDLE`"), s)
            XCTAssertTrue(s.contains("upstream branch fixes"), s)
        }
        // With downloads allowed, the mirror is fetched and the pick applies.
        let b = try build(dir, text, out: "\(dir)/out", cache: "\(dir)/cache", download: true)
        XCTAssertEqual(try read(b, "fix.txt"), "fixed\n")
        // A commit that exists nowhere is reported even after fetching.
        let nowhere = String(repeating: "ab", count: 20)
        XCTAssertThrowsError(try build(dir, pickRecipe(r.path, commit: r.base, picks: ["\(nowhere): gone"]), out: "\(dir)/out",
                                       cache: "\(dir)/cache", download: true)) { e in
            XCTAssertTrue("\(e)".contains("cherry-pick \(nowhere) (gone) is not in the git cache's mirror of \(r.path)"), "\(e)")
            XCTAssertTrue("\(e)".contains("not even after fetching it"), "\(e)")
        }
    }

    func testConflictingCherryPickNamesTheCommitAndPaths() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let r = try makePickRepo(in: dir)
        let text = pickRecipe(r.path, commit: r.base, picks: ["\(r.clean): fix line 3", "\(r.conflicting): take line 1"])
        XCTAssertThrowsError(try build(dir, text, out: "\(dir)/out", cache: "\(dir)/cache", download: true)) { e in
            let s = "\(e)"
            XCTAssertTrue(s.hasPrefix("\(dir)/app.yaml:13: cherry-pick \(r.conflicting) (take line 1) conflicts with \(r.path)"), s)
            XCTAssertTrue(s.contains(" in: hello.txt\n"), s)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(dir)/out/trees/x86_64/app"))
    }

    func testMalformedCherryPicksAndDepthNameTheRecipeLine() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let r = try makePickRepo(in: dir)
        func failure(_ text: String) -> String {
            do { _ = try build(dir, text, out: "\(dir)/out", cache: "\(dir)/cache", download: true); return "built" } catch { return "\(error)" }
        }
        var s = failure(pickRecipe(r.path, commit: r.base, picks: ["\(r.clean): ok", "# note", "\(r.clean) no colon"]))
        XCTAssertTrue(s.hasPrefix("\(dir)/app.yaml:14: git-checkout cherry-picks: `\(r.clean) no colon` has no `:`"), s)
        s = failure(pickRecipe(r.path, commit: r.base, picks: ["\(r.clean):   # only a comment"]))
        XCTAssertTrue(s.hasPrefix("\(dir)/app.yaml:12: git-checkout cherry-picks:") && s.contains("has no comment"), s)
        s = failure(pickRecipe(r.path, commit: r.base, picks: ["main/\(r.clean.prefix(12)): short id"]))
        XCTAssertTrue(s.contains("app.yaml:12: git-checkout cherry-picks: `\(r.clean.prefix(12))` is not a full commit id"), s)
        for bad in ["0", "-2", "deep"] {
            s = failure(pickRecipe(r.path, commit: r.base, picks: ["\(r.clean): ok"], depth: bad))
            XCTAssertTrue(s.hasPrefix("\(dir)/app.yaml:9:") && s.contains("depth `\(bad)` must be a positive integer or -1"), s)
        }
        // depth -1 (melange's default: full) is accepted and changes nothing.
        let b = try build(dir, pickRecipe(r.path, commit: r.base, picks: ["\(r.clean): ok"], depth: "-1"), out: "\(dir)/out",
                          cache: "\(dir)/cache", download: true)
        XCTAssertEqual(try read(b, "hello.txt"), "line 1 from main\nline 2\nline 3 fixed\n")
    }
}
