import Foundation
import KilnAPK
import KilnBuild
import KilnCrypto
import KilnTestSupport
import XCTest
@testable import KilnPipeline

/// The build → package mapping, now testable in process (it was only reachable through `kiln build`).
final class PackageStageTests: XCTestCase {
    func metadata(tree: String) -> String {
        """
        {"name":"hello","origin":"hello","version":"1.0","epoch":2,"fullVersion":"1.0-r2","description":"d",
         "licenses":["MIT","GPL-2.0-or-later WITH Classpath-exception-2.0"],"runtime":["zlib"],"provides":[],"replaces":[],
         "noProvides":false,"noDepends":false,"noCommands":false,"noVersionedShlibDeps":false,
         "scriptlets":{"post-install":"#!/bin/sh\\ntrue\\n"},"tree":"\(tree)"}
        """
    }

    func testMappingAndWriting() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try FileManager.default.createDirectory(atPath: dir + "/tree/usr/share/hello", withIntermediateDirectories: true)
        try Data("hi\n".utf8).write(to: URL(fileURLWithPath: dir + "/tree/usr/share/hello/greeting"))
        let meta = metadata(tree: dir + "/tree")
        let resultJSON = """
        {"schema":"kiln.build-result/v1","kilnVersion":"test","recipe":"hello.yaml","arch":"x86_64","variant":"standard","sourceDateEpoch":1700000000,"toolchain":"host",
         "package":\(meta),"subpackages":[],"sources":[{"uri":"https://example.invalid/h.tar.gz","sha256":"00","sha512":"","location":"hello.yaml:1:1"}],
         "buildPackages":[],"installedFromRepository":[],"providedByToolchain":[],"log":"/dev/null"}
        """
        let result = try JSONDecoder().decode(BuildResult.self, from: Data(resultJSON.utf8))
        let spec = try PackageSpec(result.package, result: result, distro: "kiln", supplier: nil)
        XCTAssertEqual(spec.license, "MIT AND (GPL-2.0-or-later WITH Classpath-exception-2.0)")
        XCTAssertEqual(spec.scriptlets.postInstall, "#!/bin/sh\ntrue\n")
        var bad = result.package
        bad.providerPriority = "high"
        XCTAssertThrowsError(try PackageSpec(bad, result: result, distro: "kiln", supplier: nil)) { e in
            XCTAssertTrue("\(e)".contains("provider-priority must be an integer"), "\(e)")
        }
        let signer = try DevelopmentKey.signer(at: dir + "/keys/dev.rsa")
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/keys/dev.rsa.pub"), "the development key is created when missing")
        let written = try PackageStage.writePackages(result, repository: dir + "/repo", context: PackagingContext(signer: signer, distro: "kiln", supplier: nil))
        XCTAssertEqual(written.map { ($0.output.path as NSString).lastPathComponent }, ["hello-1.0-r2.apk"])
        var ring = APKKeyring()
        try ring.add(path: dir + "/keys/dev.rsa.pub")
        XCTAssertEqual(try APKReader.read(path: written[0].output.path, options: APKVerifyOptions(keyring: ring)).info.pkgver, "1.0-r2")
    }
}
