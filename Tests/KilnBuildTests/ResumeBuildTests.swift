import Foundation
import KilnBuild
import KilnCore
import KilnTestSupport
import XCTest

/// `kiln build --resume` in the real sandbox: a failed step keeps the workspace and a resume record;
/// the resume skips the steps that ran, and any changed input refuses it.
final class ResumeBuildTests: XCTestCase {
    let quiet = Progress(quiet: true)

    /// Step 1 appends to `count` in the workspace; step 2 fails until `marker` exists there.
    static func recipe(extra: String = "") -> String {
        """
        package:
          name: resumable
          version: "1.0"
          epoch: 0
        pipeline:
          - name: one
            runs: echo one >> count
          - name: two
            runs: test -f marker
          - name: three
            runs: |
              mkdir -p ${{targets.destdir}}/usr/share/resumable
              cp count ${{targets.destdir}}/usr/share/resumable/count\(extra)

        """
    }

    func request(_ dir: String) -> BuildRequest {
        var r = BuildRequest(recipePath: "\(dir)/resumable.yaml", outputDirectory: "\(dir)/out", arch: "x86_64")
        r.download = false
        r.sourceDateEpoch = 1_700_000_000
        return r
    }

    /// Builds and expects step 2 to fail; returns the kept resume directory.
    func failOnce(_ dir: String) throws -> String {
        XCTAssertThrowsError(try Builder(progress: quiet).build(request(dir))) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("kiln build --resume \(dir)/resumable.yaml") && text.contains("from step 2/3 (two)"), text)
        }
        let kept = ResumeRecord.directory(out: "\(dir)/out", package: "resumable", arch: "x86_64", variant: "standard")
        let record = try XCTUnwrap(try ResumeRecord.read(from: "\(kept)/resume.json"))
        XCTAssertEqual(record.failedStep, 1)
        XCTAssertEqual(record.failedStepName, "two")
        XCTAssertEqual(try String(contentsOfFile: "\(kept)/workspace/count", encoding: .utf8), "one\n")
        return kept
    }

    func testResumeSkipsTheStepsThatRanAndFlagsTheResult() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try AtomicFile.write(Self.recipe(), to: "\(dir)/resumable.yaml")
        let kept = try failOnce(dir)
        // A clean build of another recipe in the same out dir must not delete the kept workspace.
        try AtomicFile.write("package:\n  name: other\n  version: \"1\"\n  epoch: 0\npipeline:\n  - runs: mkdir -p ${{targets.destdir}}\n", to: "\(dir)/other.yaml")
        var other = request(dir); other.recipePath = "\(dir)/other.yaml"
        _ = try Builder(progress: quiet).build(other)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(kept)/resume.json"))

        try AtomicFile.write("", to: "\(kept)/workspace/marker")   // the fix, made in the kept workspace
        var req = request(dir); req.resume = true
        let r = try Builder(progress: quiet).build(req)
        XCTAssertEqual(r.resumed, true)
        XCTAssertEqual(r.resumedFromStep, 1)
        XCTAssertEqual(try String(contentsOfFile: "\(r.package.tree)/usr/share/resumable/count", encoding: .utf8), "one\n",
                       "step 1 ran once (in the failed build), not again")
        let onDisk = try BuildResult.read(from: "\(dir)/out/trees/x86_64/resumable.build.json")
        XCTAssertEqual(onDisk.resumed, true)
        XCTAssertFalse(FileManager.default.fileExists(atPath: kept), "a finished resume removes the kept workspace")
        // Nothing left to resume; a clean build is not flagged.
        XCTAssertThrowsError(try Builder(progress: quiet).build(req)) { e in
            XCTAssertTrue("\(e)".contains("no kept workspace"), "\(e)")
        }
        XCTAssertThrowsError(try Builder(progress: quiet).build(request(dir)), "clean build: the marker is gone again")
        let ws2 = ResumeRecord.directory(out: "\(dir)/out", package: "resumable", arch: "x86_64", variant: "standard")
        XCTAssertEqual(try String(contentsOfFile: "\(ws2)/workspace/count", encoding: .utf8), "one\n", "a clean build starts from a fresh workspace")
    }

    func testChangedInputsRefuseToResume() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try AtomicFile.write(Self.recipe(), to: "\(dir)/resumable.yaml")
        let kept = try failOnce(dir)
        try AtomicFile.write("", to: "\(kept)/workspace/marker")
        var req = request(dir); req.resume = true
        req.sourceDateEpoch = 1_700_000_001
        XCTAssertThrowsError(try Builder(progress: quiet).build(req)) { e in
            XCTAssertTrue("\(e)".contains("SOURCE_DATE_EPOCH: was 1700000000, now 1700000001"), "\(e)")
        }
        req.sourceDateEpoch = 1_700_000_000
        try AtomicFile.write(Self.recipe(extra: " # changed"), to: "\(dir)/resumable.yaml")
        XCTAssertThrowsError(try Builder(progress: quiet).build(req)) { e in
            let text = "\(e)"
            XCTAssertTrue(e is ResumeRefused, text)
            XCTAssertTrue(text.contains("recipe (sha256)") && text.contains("expanded steps") && text.contains("clean build is needed"), text)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(kept)/resume.json"), "a refused resume keeps the workspace")
        // A clean build of the fixed recipe succeeds and clears the kept workspace.
        try AtomicFile.write(Self.recipe().replacingOccurrences(of: "runs: test -f marker", with: "runs: touch marker"), to: "\(dir)/resumable.yaml")
        let r = try Builder(progress: quiet).build(request(dir))
        XCTAssertNil(r.resumed)
        XCTAssertFalse(FileManager.default.fileExists(atPath: kept), "a successful clean build removes the obsolete kept workspace")
    }
}

extension ResumeBuildTests {
    /// Unattended builds (`kiln nightly`) opt out: a failed step leaves no workspace behind.
    func testUnattendedBuildKeepsNothing() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try AtomicFile.write(Self.recipe(), to: "\(dir)/resumable.yaml")
        var req = request(dir); req.keepFailedForResume = false
        XCTAssertThrowsError(try Builder(progress: quiet).build(req)) { e in
            XCTAssertFalse("\(e)".contains("--resume"), "\(e)")
        }
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: "\(dir)/out/tmp")) ?? [], [])
    }
}
