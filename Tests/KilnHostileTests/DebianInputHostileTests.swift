import Foundation
import KilnBuild
import KilnCore
import KilnTestSupport
import XCTest

/// Hostile Debian-side inputs (toolchain locks, Debian source lists, the archive's index answers,
/// build results naming a toolchain root): every name that could become a path is refused by name,
/// nothing outside the work dir changes.
final class DebianInputHostileTests: XCTestCase {
    func testALockWhosePackageNameIsAPathIsRefusedNamingTheLine() throws {
        let p = try Playground(self)
        for bad in ["package ../../victim/x 1.0 amd64", "package ok 1.0/../../x amd64", "package ok 1.0 ../amd64",
                    "package ok 1.0 amd64 ../../../../etc/passwd"] {
            let lock = try p.write("bad.lock", "suite bookworm\nvariant buildd\n\(bad)\n")
            try p.refuses(["toolchain", "bootstrap", "--frozen", "--lock", lock, "--out", "out"], mentions: ["bad.lock:3"])
        }
    }

    func testASourceListRowWhoseFileIsAPathIsRefusedNamingTheLine() throws {
        let p = try Playground(self)
        let sha = String(repeating: "a", count: 64)
        for (row, what) in [("source zlib 1-1 ../../victim/precious.txt \(sha)", "plain file name"),
                            ("binary libc6 1-1 libc6.deb \(String(repeating: "z", count: 64))", "not a sha256"),
                            ("tarball zlib 1-1 z.tar \(sha)", "expected `source|binary")] {
            try p.write("recipes/debian-sources.txt", "# list\n\(row)\n")
            try p.refuses(["source", "debian", "--list", "recipes/debian-sources.txt", "--out", "out"],
                          mentions: ["debian-sources.txt:2", what])
            try p.refuses(["update", "--list", "recipes/debian-sources.txt", "--recipes", "recipes"], mentions: ["debian-sources.txt:2"])
        }
    }

    /// The archive's index is input too: a listed file name that is a path is never written into the
    /// list or the recipe.
    func testAnArchiveListingAPathAsTheNewFileIsRefused() throws {
        let p = try Playground(self)
        let archive = FakeDebianArchive(published: [:], pool: p.work + "/pool")
        let t1 = try p.write("src/a.tar.gz", "one"), t2 = try p.write("src/b.tar.gz", "two")
        archive.sources["a"] = [("1.0-1", "a_1.0.orig.tar.gz", t1), ("1.1-1", "../../victim/a_1.1.orig.tar.gz", t2)]
        let sha = try SourceCache.sha256(of: t1)
        let recipe = try p.write("recipes/a.yaml", "package:\n  name: a\n  version: \"1.0\"\n  epoch: 0\npipeline:\n  - uses: fetch\n    with:\n      uri: https://example.invalid/a-1.0.tar.gz\n      expected-sha256: \(sha)\n")
        let list = try p.write("recipes/debian-sources.txt", "source a 1.0-1 a_1.0.orig.tar.gz \(sha)\n")
        let before = p.snapshot(), recipeText = try String(contentsOfFile: recipe, encoding: .utf8)
        let updater = RecipeUpdater(list: try DebianSourceList.load(list), cache: SourceCache(root: p.work + "/cache"),
                                    archive: archive, progress: Progress(quiet: true))
        XCTAssertThrowsError(try updater.plan([recipe])) { e in
            XCTAssertTrue("\(e)".contains("not a plain file name") && "\(e)".contains("../../victim/a_1.1.orig.tar.gz"), "\(e)")
        }
        XCTAssertEqual(try String(contentsOfFile: recipe, encoding: .utf8), recipeText)
        XCTAssertEqual(try String(contentsOfFile: list, encoding: .utf8), "source a 1.0-1 a_1.0.orig.tar.gz \(sha)\n")
        XCTAssertEqual(p.snapshot(), before)
    }

    /// A build result is kiln's own output, but `kiln repro` reads it from the out dir: a recorded
    /// toolchain digest that is a path never reaches the file system.
    func testABuildResultWhoseToolchainDigestIsAPathIsRefused() throws {
        let p = try Playground(self)
        try p.write("tiny.yaml", "package:\n  name: tiny\n  version: \"1\"\n  epoch: 0\npipeline:\n  - runs: mkdir -p ${{targets.destdir}}/x\n")
        XCTAssertEqual(try p.kiln(["build", "tiny.yaml", "--out", "out", "--no-package"]).status, 0)
        let file = p.work + "/out/trees/x86_64/tiny.build.json"
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [String: Any])
        json["toolchainLockDigest"] = "../../../victim/precious.txt"
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: file))
        try p.refuses(["repro", "tiny.yaml", "--toolchain", "debian", "--out", "out"], mentions: ["is not a toolchain lock digest", "rebuild the package"])
    }
}
