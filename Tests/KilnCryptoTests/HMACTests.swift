import Foundation
@testable import KilnCrypto
import XCTest

/// HMAC through EVP_MAC against RFC 4231's published vectors.
final class HMACTests: XCTestCase {
    func testRFC4231Vectors() throws {
        // Test case 2: key "Jefe".
        XCTAssertEqual(try HMAC.mac(.sha256, key: Array("Jefe".utf8), data: Data("what do ya want for nothing?".utf8)).hexString,
                       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        // Test case 1: 20 bytes of 0x0b, "Hi There" (SHA-512 too).
        let key = [UInt8](repeating: 0x0b, count: 20)
        XCTAssertEqual(try HMAC.mac(.sha256, key: key, data: Data("Hi There".utf8)).hexString,
                       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        XCTAssertEqual(try HMAC.mac(.sha512, key: key, data: Data("Hi There".utf8)).hexString,
                       "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854")
        // Empty data is fine.
        XCTAssertEqual(try HMAC.mac(.sha256, key: key, data: Data()).count, 32)
    }
}
