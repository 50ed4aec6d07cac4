import Foundation
import KilnBuild
import KilnCore
import KilnRecipe
import KilnTestSupport
import XCTest

/// git-checkout from the git cache (bare mirrors), seeded from local repositories and bundles.
final class GitCheckoutTests: XCTestCase {
    let quiet = Progress(quiet: true)

    @discardableResult
    func git(_ args: [String], in dir: String) throws -> String {
        let env = ["PATH": "/usr/bin:/bin", "HOME": dir, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
                   "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
                   "GIT_AUTHOR_DATE": "2023-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2023-01-01T00:00:00Z"]
        let r = try Subprocess("git", ["-c", "protocol.file.allow=always", "-c", "init.defaultBranch=main"] + args,
                               environment: env, workingDirectory: dir).run()
        XCTAssertTrue(r.succeeded, "git \(args): \(r.stderrString)")
        return r.stdoutString.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    struct Repos { var app: String; var lib: String; var v1: String; var v2: String }

    /// `lib` (one file) and `app` (tags v1.0 and v2.0, `lib` as submodule `sub`).
    func makeRepos(in dir: String) throws -> Repos {
        let lib = "\(dir)/repos/lib", app = "\(dir)/repos/app"
        for d in [lib, app] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
        try git(["init", "-q"], in: lib)
        try AtomicFile.write("from lib\n", to: "\(lib)/lib.txt")
        try git(["add", "."], in: lib); try git(["commit", "-qm", "lib"], in: lib)
        try git(["init", "-q"], in: app)
        try AtomicFile.write("version 1\n", to: "\(app)/hello.txt")
        try git(["submodule", "--quiet", "add", lib, "sub"], in: app)
        try git(["add", "."], in: app); try git(["commit", "-qm", "v1"], in: app); try git(["tag", "v1.0"], in: app)
        let v1 = try git(["rev-parse", "HEAD"], in: app)
        try AtomicFile.write("version 2\n", to: "\(app)/hello.txt")
        try git(["commit", "-qam", "v2"], in: app); try git(["tag", "-a", "-m", "two", "v2.0"], in: app)
        let v2 = try git(["rev-parse", "HEAD"], in: app)
        return Repos(app: app, lib: lib, v1: v1, v2: v2)
    }

    func recipe(repository: String, tag: String?, commit: String?, submodules: Bool) -> String {
        var with = "      repository: \(repository)\n"
        if let tag { with += "      tag: \(tag)\n" }
        if let commit { with += "      expected-commit: \(commit)\n" }
        if submodules { with += "      recurse-submodules: true\n" }
        return """
        package:
          name: app
          version: "1"
        pipeline:
          - uses: git-checkout
            with:
        \(with)
          - runs: |
              test ! -e .git
              mkdir -p ${{targets.destdir}}/usr/share/app
              cp hello.txt ${{targets.destdir}}/usr/share/app/
              stat -c %Y hello.txt > ${{targets.destdir}}/usr/share/app/mtime
              if [ -f sub/lib.txt ]; then cp sub/lib.txt ${{targets.destdir}}/usr/share/app/; fi

        """
    }

    func build(_ dir: String, _ text: String, out: String, cache: String, download: Bool) throws -> BuildResult {
        let path = "\(dir)/app.yaml"
        try AtomicFile.write(text, to: path)
        var req = BuildRequest(recipePath: path, outputDirectory: out, arch: "x86_64")
        req.sourceCache = cache
        req.download = download
        req.sourceDateEpoch = 1_600_000_000
        return try Builder(progress: quiet).build(req)
    }

    func read(_ r: BuildResult, _ f: String) throws -> String {
        try String(contentsOfFile: "\(r.package.tree)/usr/share/app/\(f)", encoding: .utf8)
    }

    func testCheckoutByTagAndCommitWithSubmoduleThenOfflineFromMirror() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let repos = try makeRepos(in: dir)
        let cache = "\(dir)/cache"
        let text = recipe(repository: repos.app, tag: "v1.0", commit: repos.v1, submodules: true)
        let a = try build(dir, text, out: "\(dir)/a", cache: cache, download: true)
        XCTAssertEqual(try read(a, "hello.txt"), "version 1\n")
        XCTAssertEqual(try read(a, "lib.txt"), "from lib\n")
        XCTAssertEqual(try read(a, "mtime"), "1600000000\n")
        XCTAssertEqual(a.sources.first?.commit, repos.v1)
        XCTAssertEqual(a.sources.first?.uri, repos.app)

        // The original repositories are gone: the mirror alone serves the second build.
        try FileManager.default.removeItem(atPath: repos.app)
        try FileManager.default.removeItem(atPath: repos.lib)
        let b = try build(dir, text, out: "\(dir)/b", cache: cache, download: false)
        XCTAssertEqual(try read(b, "hello.txt"), "version 1\n")
        for f in ["hello.txt", "lib.txt", "mtime"] { XCTAssertEqual(try read(a, f), try read(b, f)) }

        // By expected-commit alone (annotated tag's commit), offline.
        let c = try build(dir, recipe(repository: repos.app, tag: nil, commit: repos.v2, submodules: false),
                          out: "\(dir)/c", cache: cache, download: false)
        XCTAssertEqual(try read(c, "hello.txt"), "version 2\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(c.package.tree)/usr/share/app/lib.txt"))
    }

    func testWrongExpectedCommitPrintsBothCommits() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let repos = try makeRepos(in: dir)
        let text = recipe(repository: repos.app, tag: "v2.0", commit: repos.v1, submodules: false)
        XCTAssertThrowsError(try build(dir, text, out: "\(dir)/out", cache: "\(dir)/cache", download: true)) { e in
            let s = "\(e)"
            XCTAssertTrue(s.contains("expected: \(repos.v1)"), s)
            XCTAssertTrue(s.contains("actual:   \(repos.v2)"), s)
            XCTAssertTrue(s.contains("app.yaml:5:"), s)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(dir)/out/trees/x86_64/app"))
    }

    func testBundleSeedsTheMirrorForOfflineBuilds() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let repos = try makeRepos(in: dir)
        let bundle = "\(dir)/app.bundle"
        try git(["bundle", "create", "-q", bundle, "--all"], in: repos.app)
        let url = "https://git.example.invalid/app.git"
        let cache = "\(dir)/cache"
        let seeded = try TestSupport.kiln(["source", "add-git", url, bundle, "--source-cache", cache])
        XCTAssertEqual(seeded.status, 0, seeded.err)
        let text = recipe(repository: url, tag: "v2.0", commit: repos.v2, submodules: false)
        let r = try build(dir, text, out: "\(dir)/out", cache: cache, download: false)
        XCTAssertEqual(try read(r, "hello.txt"), "version 2\n")
        let list = try TestSupport.kiln(["source", "list", "\(dir)/app.yaml", "--source-cache", cache])
        XCTAssertEqual(list.status, 0, list.err)
        XCTAssertTrue(list.out.contains("cached   git:\(repos.v2)  \(url)"), list.out)
    }
}
