import Foundation
import KilnAPK
import KilnCore
import KilnCrypto
import KilnRecipe
import KilnTestSupport
import XCTest
@testable import KilnNightly

/// `NightlyLaunch` in process: the request alone (no working directory) drives the plan, the real
/// recipe executor (build → package → index) and the summary `kiln nightly` prints.
final class NightlyLaunchTests: XCTestCase {
    func recipe(_ name: String, needs: [String] = []) -> String {
        """
        package:
          name: \(name)
          version: "1.0"
          epoch: 0
          description: launch test
          copyright:
            - license: MIT
        environment:
          contents:
            packages: [\((["busybox"] + needs).joined(separator: ", "))]
        pipeline:
          - runs: |
              mkdir -p ${{targets.destdir}}/usr/share/\(name)
              echo \(name) > ${{targets.destdir}}/usr/share/\(name)/file

        """
    }

    func testPlanThenRunBuildsPackagesInOrderAndSkipsThemTheSecondTime() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try FileManager.default.createDirectory(atPath: dir + "/recipes", withIntermediateDirectories: true)
        try AtomicFile.write(recipe("base"), to: dir + "/recipes/base.yaml")
        try AtomicFile.write(recipe("app", needs: ["base"]), to: dir + "/recipes/app.yaml")
        let key = try PrivateKey.generate(.rsa(bits: 2048))
        try key.save(to: dir + "/k.rsa")
        var options = NightlyOptions(outputRoot: dir + "/out")
        options.jobs = 1
        let request = NightlyRequest(recipes: dir + "/recipes", images: nil, options: options, arch: Architecture.host, toolchain: "host",
                                     signer: SignerBox(try APKSigner.load(path: dir + "/k.rsa")), repository: dir + "/out/packages",
                                     packageKey: dir + "/k.rsa.pub", imageKey: dir + "/none.key")
        let plan = try NightlyLaunch.plan(request)
        XCTAssertEqual(Set(plan.entries.map(\.id)), ["base", "app"])
        XCTAssertEqual(plan.toBuild, 2)

        let (report, reportDir) = try NightlyLaunch.runner(request, progress: Progress(quiet: true)).run()
        XCTAssertEqual(report.summary.built, 2, report.summaryLines(directory: reportDir).joined(separator: "\n"))
        let app = try XCTUnwrap(report.nodes.first { $0.id == "app" })
        XCTAssertEqual(app.outputs.map(\.kind), ["apk"])
        XCTAssertEqual(app.outputs.first?.path, "packages/\(Architecture.host)/app-1.0-r0.apk")
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/out/packages/\(Architecture.host)/APKINDEX.tar.gz"))
        let lines = report.summaryLines(directory: reportDir)
        XCTAssertTrue(lines[0].hasPrefix("nightly \(report.runID): 2 built, 0 unchanged, 0 failed, 0 blocked, 0 not run in "), lines[0])
        XCTAssertEqual(lines[1], "report: \(reportDir)/report.html")

        let again = try NightlyLaunch.runner(request, progress: Progress(quiet: true)).run().report
        XCTAssertEqual(again.summary.unchanged, 2)
    }
}
