import Foundation
import KilnAPK
import KilnArchive
import KilnTestSupport
import XCTest
@testable import KilnImage

/// The image path reads repositories with KilnAPK's verifier: crafted signature members that
/// trapped KilnImage's old `TarFragment` walker are refused with an error naming the index.
final class HostileRepositoryTests: XCTestCase {
    func writeIndex(_ dir: String, signatureSize: [UInt8]) throws {
        let sig = CraftedTar.header(name: ".SIGN.RSA256.kiln-dev.rsa.pub", sizeField: signatureSize)
        let index = try Gzip.compress(Data(CraftedTar.file("APKINDEX", Array("C:Q1x=\nP:a\nV:1-r0\n\n".utf8)) + CraftedTar.endOfArchive))
        try FileManager.default.createDirectory(atPath: dir + "/x86_64", withIntermediateDirectories: true)
        try (try Gzip.compress(Data(sig)) + index).write(to: URL(fileURLWithPath: dir + "/x86_64/APKINDEX.tar.gz"))
    }

    func testSignatureSizeMinusOneIsRefused() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try writeIndex(dir, signatureSize: Array("-1".utf8) + [0])
        XCTAssertThrowsError(try Repository.load(path: dir, arch: "x86_64", keyring: APKKeyring())) { e in
            XCTAssertTrue("\(e)".contains("APKINDEX.tar.gz"), "\(e)")
            XCTAssertTrue("\(e)".contains("bad size field"), "\(e)")
        }
    }

    func testSignatureSizeNearInt64MaxIsRefused() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try writeIndex(dir, signatureSize: CraftedTar.base256NearMax)
        XCTAssertThrowsError(try Repository.load(path: dir, arch: "x86_64", keyring: APKKeyring())) { e in
            XCTAssertTrue("\(e)".contains("truncated"), "\(e)")
        }
    }
}
