import Foundation
import KilnAPK
import KilnCrypto
import KilnTestSupport
import XCTest

/// `APKWriter.resign`: a package signed with one key, re-signed with another, is byte for byte
/// what signing with the other key at build time writes; what is not a signed package is refused.
final class ResignTests: XCTestCase {
    func testResignEqualsSigningAtBuildTimeAndRefusesUnsignedOrGarbage() throws {
        let tmp = try TestSupport.temporaryDirectory(self, prefix: "kiln-resign")
        let worker = try TestKey.make(in: tmp, name: "worker.rsa"), coordinator = try TestKey.make(in: tmp, name: "coord.rsa")
        let root = tmp + "/tree"; try Fixture.simpleTree(root)
        let byWorker = try APKWriter.write(spec: Fixture.spec(), root: root, to: tmp + "/w.apk", signer: worker.signer)
        let byCoordinator = try APKWriter.write(spec: Fixture.spec(), root: root, to: tmp + "/c.apk", signer: coordinator.signer)
        let size = try APKWriter.resign(byWorker.path, to: tmp + "/r.apk", signer: coordinator.signer)
        let resigned = try Data(contentsOf: URL(fileURLWithPath: tmp + "/r.apk"))
        XCTAssertEqual(resigned, try Data(contentsOf: URL(fileURLWithPath: byCoordinator.path)))
        XCTAssertEqual(size, resigned.count)
        // the re-signed package verifies with the coordinator's key only
        XCTAssertNoThrow(try APKReader.read(path: tmp + "/r.apk", options: APKVerifyOptions(keyring: coordinator.keyring)))
        XCTAssertThrowsError(try APKReader.read(path: tmp + "/r.apk", options: APKVerifyOptions(keyring: worker.keyring)))

        let unsigned = try APKWriter.write(spec: Fixture.spec(), root: root, to: tmp + "/u.apk", signer: nil)
        XCTAssertThrowsError(try APKWriter.resign(unsigned.path, to: tmp + "/x.apk", signer: coordinator.signer)) {
            XCTAssertTrue("\($0)".contains("u.apk") && "\($0)".contains("2 gzip members"), "\($0)")
        }
        try Data("not a package".utf8).write(to: URL(fileURLWithPath: tmp + "/g.apk"))
        XCTAssertThrowsError(try APKWriter.resign(tmp + "/g.apk", to: tmp + "/x.apk", signer: coordinator.signer)) {
            XCTAssertTrue("\($0)".contains("g.apk"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp + "/x.apk"))
    }
}
