import Foundation
import XCTest
import KilnCore
import KilnTestSupport
@testable import KilnRepro

/// `ImageRepro` varies the umask, TZ and locale of the child that re-assembles the image, never
/// this process's (the end-to-end image repro runs in NightlyCLITests).
final class ImageReproTests: XCTestCase {
    /// A stand-in for `kiln`: records its umask, TZ, LANG, LC_ALL and arguments, then fails.
    func fakeKiln(_ dir: String) throws -> (exe: String, record: String) {
        let record = dir + "/record"
        let exe = dir + "/fake-kiln"
        try AtomicFile.write("#!/bin/sh\n{ umask; echo \"TZ=$TZ LANG=$LANG LC_ALL=$LC_ALL\"; echo \"$@\"; } > \(record)\necho assembly refused >&2\nexit 3\n",
                             to: exe, mode: 0o755)
        return (exe, record)
    }

    func request(_ dir: String, vary: String, kiln: String) throws -> ImageReproRequest {
        try AtomicFile.write("contents:\n  packages:\n    - app\nentrypoint:\n  command: /bin/true\n", to: dir + "/svc.yaml")
        try FileManager.default.createDirectory(atPath: dir + "/out/images/svc", withIntermediateDirectories: true)
        try AtomicFile.write(#"{"imageLayoutVersion":"1.0.0"}"#, to: dir + "/out/images/svc/oci-layout")
        var r = ImageReproRequest(configPath: dir + "/svc.yaml", outputRoot: dir + "/out", variations: try ReproVariations(vary),
                                  kiln: [kiln, "--fips-config", "/etc/x.cnf"])
        r.environment = ["PATH": "/usr/bin:/bin", "TZ": "UTC", "LANG": "C.UTF-8"]
        return r
    }

    func testReassemblyRunsInAChildWithTheVariedEnvironmentAndLeavesThisProcessAlone() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let (exe, record) = try fakeKiln(dir)
        let before = umask(0o022); umask(before)
        let tzBefore = ProcessInfo.processInfo.environment["TZ"], langBefore = ProcessInfo.processInfo.environment["LANG"]
        XCTAssertThrowsError(try ImageRepro.reproduce(try request(dir, vary: "all", kiln: exe))) { e in
            XCTAssertTrue("\(e)".contains("re-assembling \(dir)/svc.yaml failed (exit 3)") && "\(e)".contains("assembly refused"), "\(e)")
        }
        let lines = try String(contentsOfFile: record, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 3, "\(lines)")
        XCTAssertEqual(lines[0], "0002")
        XCTAssertEqual(lines[1], "TZ=KLN-14 LANG=fr_CH.UTF-8 LC_ALL=fr_CH.UTF-8")
        XCTAssertTrue(lines[2].hasPrefix("--fips-config /etc/x.cnf image \(dir)/svc.yaml --repo \(dir)/out/packages --out \(dir)/out/repro/image-svc/layout-varied-"),
                      lines[2])
        // this process: umask and environment untouched
        let after = umask(0o022); umask(after)
        XCTAssertEqual(after, before)
        XCTAssertEqual(ProcessInfo.processInfo.environment["TZ"], tzBefore)
        XCTAssertEqual(ProcessInfo.processInfo.environment["LANG"], langBefore)
    }

    func testWithoutVariationsTheChildGetsTheGivenEnvironmentAndAFixedDirectory() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let (exe, record) = try fakeKiln(dir)
        XCTAssertThrowsError(try ImageRepro.reproduce(try request(dir, vary: "none", kiln: exe)))
        let lines = try String(contentsOfFile: record, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(lines[1], "TZ=UTC LANG=C.UTF-8 LC_ALL=")
        XCTAssertTrue(lines[2].hasSuffix("--out \(dir)/out/repro/image-svc/layout"), lines[2])
    }

    func testAMissingPublishedLayoutIsNamed() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        var r = try request(dir, vary: "all", kiln: "/bin/false")
        r.published = dir + "/nowhere"
        XCTAssertThrowsError(try ImageRepro.reproduce(r)) { e in
            XCTAssertTrue("\(e)".contains("no published image layout \(dir)/nowhere to compare with"), "\(e)")
        }
    }
}
