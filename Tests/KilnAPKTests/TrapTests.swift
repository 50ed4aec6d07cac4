import Foundation
import KilnAPK
import KilnArchive
import KilnTestSupport
import XCTest

/// The review's reproductions: `kiln apk verify evil.apk` died with SIGILL at APKTar.swift:118 on a
/// `.SIGN.*` header whose base-256 size is near `Int64.max`; now it is a named error.
final class APKTrapTests: XCTestCase {
    func evil(_ sizeField: [UInt8]) throws -> Data {
        let sig = try Gzip.compress(Data(CraftedTar.header(name: ".SIGN.RSA256.kiln-dev.rsa.pub", sizeField: sizeField)))
        let control = try Gzip.compress(Data(CraftedTar.file(".PKGINFO", Array("pkgname = x\n".utf8))))
        let data = try Gzip.compress(Data(CraftedTar.endOfArchive))
        return sig + control + data
    }

    func testBase256SignatureSizeIsAnError() throws {
        XCTAssertThrowsError(try APKReader.read(data: try evil(CraftedTar.base256NearMax), file: "evil.apk", options: APKVerifyOptions())) { e in
            XCTAssertTrue("\(e)".contains("evil.apk"), "\(e)")
            XCTAssertTrue("\(e)".contains("truncated"), "\(e)")
        }
    }

    func testSizeMinusOneIsAnError() throws {
        XCTAssertThrowsError(try APKReader.read(data: try evil(Array("-1".utf8) + [0]), file: "evil.apk", options: APKVerifyOptions())) { e in
            XCTAssertTrue("\(e)".contains("bad size field"), "\(e)")
        }
    }
}
