import Foundation
import KilnFIPS
import KilnOCI
@testable import KilnImage
import KilnTestSupport
import XCTest

/// The image config's `fips: {allow: …}`: strict parsing with file:line errors, carried into both
/// variants' manifests, and honoured (printed as allowed with its reason) by `kiln audit`.
extension ImageBuildTests {
    func testFIPSAllowListParsesStrictlyAndReachesTheAudit() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let repo = try makeRepo(dir)
        let allow = """
            fips:
              allow:
                - path: /usr/lib/ossl-modules/fips.so
                  finding: module-mac-missing
                  reason: test image without fipsinstall
            """
        let cfg = try writeConfig(dir, repo, extra: allow)
        let parsed = try ImageConfig.load(path: cfg)
        XCTAssertEqual(parsed.fipsAllow.map(\.finding), ["module-mac-missing"])
        XCTAssertTrue(parsed.fipsAllow[0].source?.hasPrefix(cfg + ":20:") ?? false, parsed.fipsAllow[0].source ?? "")
        let results = try build(cfg, out: dir + "/out")
        for r in results {
            let list = try FIPSAllowance.parseAnnotation(try XCTUnwrap(r.annotations[FIPSAllowance.annotation]), source: r.tag)
            XCTAssertEqual(list, [FIPSAllowance(path: "/usr/lib/ossl-modules/fips.so", finding: "module-mac-missing",
                                                reason: "test image without fipsinstall", source: r.tag)])
        }
        let fips = try XCTUnwrap(results.first { $0.variant == .fips })
        let a = try TestSupport.kiln(["audit", dir + "/out:" + fips.tag], cwd: TestSupport.packageRoot)
        XCTAssertTrue(a.out.contains("allowed [module-mac-missing] /usr/lib/ossl-modules/fips.so"), a.out + a.err)
        XCTAssertTrue(a.out.contains("allowed because: test image without fipsinstall"), a.out)
        XCTAssertEqual(a.status, 1, "the fake provider image still has other findings:\n" + a.out)

        // Strict: unknown keys, missing fields and non-mappings are errors naming the line.
        for (bad, want) in [("fips:\n  allow:\n    - {path: /x, finding: y}\n", "needs reason"),
                            ("fips:\n  allow:\n    - {path: /x, finding: y, reason: z, why: w}\n", "unknown key 'why'"),
                            ("fips:\n  deny: []\n", "unknown key 'fips.deny'"),
                            ("fips:\n  allow:\n    - {path: /x, finding: y, reason: ''}\n", "must be a non-empty string")] {
            XCTAssertThrowsError(try ImageConfig.parse(bad, file: "c.yaml")) { e in
                XCTAssertTrue("\(e)".hasPrefix("c.yaml:") && "\(e)".contains(want), "\(e)")
            }
        }
    }
}
