import Foundation
import KilnAPK
import KilnBuild
import KilnCore
import KilnCrypto
import KilnTestSupport
import XCTest
@testable import KilnPipeline

/// `kiln build`'s loop in process: dependency order, packaging and indexing per recipe, and
/// nothing (no key, no build) when a recipe is refused.
final class BuildPipelineTests: XCTestCase {
    func recipe(_ name: String, needs: [String] = []) -> String {
        """
        package:
          name: \(name)
          version: "1.0"
          epoch: 0
          description: pipeline test
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

    func request(_ dir: String, recipes: [String], key: String, create: Bool) -> BuildPipelineRequest {
        var r = BuildPipelineRequest(recipes: recipes, build: BuildRequest(recipePath: "", outputDirectory: dir + "/out"))
        r.packaging = .init(repository: dir + "/out/packages", signingKey: key, createKeyIfMissing: create, distro: "kiln", supplier: nil)
        return r
    }

    func testDependencyOrderPackagesAndIndexEachRecipe() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try AtomicFile.write(recipe("base"), to: dir + "/base.yaml")
        try AtomicFile.write(recipe("app", needs: ["base"]), to: dir + "/app.yaml")
        let key = try PrivateKey.generate(.rsa(bits: 2048))
        try key.save(to: dir + "/k.rsa")
        try AtomicFile.write(try key.publicKey.pem(), to: dir + "/k.rsa.pub")
        var events: [String] = []
        let results = try BuildPipeline.run(request(dir, recipes: [dir + "/app.yaml", dir + "/base.yaml"], key: dir + "/k.rsa", create: false),
                                            progress: Progress(quiet: true)) { e in
            switch e {
            case .built(let r): events.append("built \(r.package.name)")
            case .tested: events.append("tested")
            case .packaged(let o): events.append("packaged \((o.path as NSString).lastPathComponent)")
            case .indexed(_, let n): events.append("indexed \(n)")
            }
        }
        XCTAssertEqual(results.map(\.package.name), ["base", "app"], "base is a build dependency of app")
        XCTAssertEqual(events, ["built base", "packaged base-1.0-r0.apk", "indexed 1", "built app", "packaged app-1.0-r0.apk", "indexed 2"])
        // app's build root got base from the repository, verified with the signing key
        XCTAssertEqual(results[1].installedFromRepository.map { $0.hasPrefix("base") }, [true], "\(results[1].installedFromRepository)")
        var ring = APKKeyring()
        try ring.add(path: dir + "/k.rsa.pub")
        let index = try APKIndex.read(path: dir + "/out/packages/\(results[0].arch)/APKINDEX.tar.gz", options: APKVerifyOptions(keyring: ring))
        XCTAssertEqual(index.records.map(\.name).sorted(), ["app", "base"])
    }

    func testARefusedRecipeCreatesNoKeyAndBuildsNothing() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try AtomicFile.write(recipe("good"), to: dir + "/good.yaml")
        try AtomicFile.write(recipe("bad") + "no-such-key: 1\n", to: dir + "/bad.yaml")
        var built = 0
        XCTAssertThrowsError(try BuildPipeline.run(request(dir, recipes: [dir + "/good.yaml", dir + "/bad.yaml"], key: dir + "/keys/dev.rsa", create: true),
                                                   progress: Progress(quiet: true)) { if case .built = $0 { built += 1 } }) { e in
            XCTAssertTrue("\(e)".contains("bad.yaml") && "\(e)".contains("no-such-key"), "\(e)")
        }
        XCTAssertEqual(built, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/keys/dev.rsa"), "no development key for a refused recipe")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out/trees"))
    }
}
