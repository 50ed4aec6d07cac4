import Foundation
import KilnAPK
import KilnBuild
import KilnCore
import KilnCrypto
import KilnTestSupport
import XCTest
@testable import KilnPipeline

/// `kiln build --resume` through the pipeline: the resumed package is built but never packaged or
/// indexed, and packaging its build result directly is refused.
final class ResumePipelineTests: XCTestCase {
    func testResumedBuildIsNotPackagedOrIndexed() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try AtomicFile.write("""
            package:
              name: flaky
              version: "1.0"
              epoch: 0
            pipeline:
              - runs: test -f marker
              - runs: mkdir -p ${{targets.destdir}}/usr/share/flaky && echo ok > ${{targets.destdir}}/usr/share/flaky/file

            """, to: dir + "/flaky.yaml")
        let key = try PrivateKey.generate(.rsa(bits: 2048))
        try key.save(to: dir + "/k.rsa")
        var r = BuildPipelineRequest(recipes: [dir + "/flaky.yaml"], build: BuildRequest(recipePath: "", outputDirectory: dir + "/out"))
        r.build.sourceDateEpoch = 1_700_000_000
        r.packaging = .init(repository: dir + "/out/packages", signingKey: dir + "/k.rsa", createKeyIfMissing: false, distro: "kiln", supplier: nil)
        XCTAssertThrowsError(try BuildPipeline.run(r, progress: Progress(quiet: true))) { e in
            XCTAssertTrue("\(e)".contains("kiln build --resume"), "\(e)")
        }
        let kept = ResumeRecord.directory(out: dir + "/out", package: "flaky", arch: r.build.arch, variant: "standard")
        try AtomicFile.write("", to: kept + "/workspace/marker")
        r.build.resume = true
        var events: [String] = []
        let results = try BuildPipeline.run(r, progress: Progress(quiet: true)) { e in
            switch e {
            case .built(let b): events.append("built \(b.package.name)")
            case .tested: events.append("tested")
            case .packaged: events.append("packaged")
            case .indexed: events.append("indexed")
            }
        }
        XCTAssertEqual(events, ["built flaky"], "a resumed build is neither packaged nor indexed")
        XCTAssertEqual(results.first?.resumed, true)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out/packages/\(r.build.arch)/APKINDEX.tar.gz"))
        let context = PackagingContext(signer: try APKSigner.load(path: dir + "/k.rsa"), distro: "kiln", supplier: nil)
        XCTAssertThrowsError(try PackageStage.writePackages(results[0], repository: dir + "/out/packages", context: context)) { e in
            XCTAssertTrue("\(e)".contains("rebuild it clean"), "\(e)")
        }
    }
}
