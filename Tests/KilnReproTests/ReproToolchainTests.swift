import Foundation
import KilnCore
import KilnTestSupport
import XCTest

/// `kiln repro --toolchain debian` rebuilds in the root the published build recorded; a root that can
/// be had neither from the source cache nor from the archive is "could not run" (exit 2), never
/// "not reproducible".
final class ReproToolchainTests: XCTestCase {
    func testARootThatCannotBeRecreatedExitsTwoSayingSo() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try AtomicFile.write("package:\n  name: tiny\n  version: \"1\"\n  epoch: 0\npipeline:\n  - runs: mkdir -p ${{targets.destdir}}/x && echo hi > ${{targets.destdir}}/x/f\n",
                             to: dir + "/tiny.yaml")
        let b = try TestSupport.kiln(["build", dir + "/tiny.yaml", "--out", dir + "/out", "--no-package"])
        XCTAssertEqual(b.status, 0, b.err)
        let file = dir + "/out/trees/x86_64/tiny.build.json"
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [String: Any])
        let gone = String(repeating: "7", count: 64)
        json["toolchainLockDigest"] = gone
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: file))
        let r = try TestSupport.kiln(["repro", dir + "/tiny.yaml", "--toolchain", "debian", "--out", dir + "/out"])
        XCTAssertEqual(r.status, 2, r.out + r.err)
        XCTAssertTrue(r.err.contains("lock sha256 \(gone)") && r.err.contains("cannot be recreated"), r.err)
        XCTAssertFalse(r.out.contains("NOT reproducible"), r.out)
    }

    /// `kiln repro --source-cache` takes its sources where `kiln build --source-cache` did (issue 22:
    /// the same option means the same thing in every subcommand); an untrusted repository is reported
    /// with the option repro really has (`--signing-key`), not `--key`/`--keyring`.
    func testSourceCacheOptionAndUntrustedRepositoryAdvice() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try FileManager.default.createDirectory(atPath: dir + "/src/s-1", withIntermediateDirectories: true)
        try "data\n".write(toFile: dir + "/src/s-1/f", atomically: true, encoding: .utf8)
        try Subprocess("tar", ["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "-czf", dir + "/s-1.tar.gz", "-C", dir + "/src", "s-1"]).check()
        let cache = dir + "/elsewhere-cache"
        var r = try TestSupport.kiln(["source", "add", "--source-cache", cache, dir + "/s-1.tar.gz"])
        XCTAssertEqual(r.status, 0, r.err)
        let sha = String(r.out.prefix(64))
        try AtomicFile.write("package:\n  name: dep\n  version: \"1\"\n  epoch: 0\npipeline:\n  - runs: mkdir -p ${{targets.destdir}}/usr/share/dep && echo d > ${{targets.destdir}}/usr/share/dep/d\n", to: dir + "/dep.yaml")
        try AtomicFile.write("package:\n  name: s\n  version: \"1\"\n  epoch: 0\nenvironment:\n  contents:\n    packages: [dep]\npipeline:\n  - uses: fetch\n    with:\n      uri: https://example.invalid/s-1.tar.gz\n      expected-sha256: \(sha)\n  - runs: mkdir -p ${{targets.destdir}}/usr/share/s && cp f ${{targets.destdir}}/usr/share/s/\n",
                             to: dir + "/s.yaml")
        XCTAssertEqual(try TestSupport.kiln(["keygen", "--type", "rsa", "--bits", "2048", "--out", dir + "/k"]).status, 0)
        XCTAssertEqual(try TestSupport.kiln(["keygen", "--type", "rsa", "--bits", "2048", "--out", dir + "/other"]).status, 0)
        r = try TestSupport.kiln(["build", dir + "/dep.yaml", dir + "/s.yaml", "--out", dir + "/out", "--source-cache", cache, "--offline", "--signing-key", dir + "/k.rsa"])
        XCTAssertEqual(r.status, 0, r.err)
        r = try TestSupport.kiln(["repro", dir + "/s.yaml", "--out", dir + "/out", "--signing-key", dir + "/k.rsa", "--vary", "time"])
        XCTAssertEqual(r.status, 2, "without the cache the source is missing: " + r.out + r.err)
        XCTAssertTrue(r.err.contains("example.invalid/s-1.tar.gz"), "the source was looked for outside that cache: " + r.err)
        r = try TestSupport.kiln(["repro", dir + "/s.yaml", "--out", dir + "/out", "--source-cache", cache, "--signing-key", dir + "/k.rsa", "--vary", "time"])
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssertTrue(r.out.contains("reproducible"), r.out)
        r = try TestSupport.kiln(["repro", dir + "/s.yaml", "--out", dir + "/out", "--source-cache", cache, "--signing-key", dir + "/other.rsa", "--vary", "time"])
        XCTAssertEqual(r.status, 2, r.out + r.err)
        XCTAssertTrue(r.err.contains("--signing-key") && !r.err.contains("--keyring"), r.err)
    }
}
