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
}
