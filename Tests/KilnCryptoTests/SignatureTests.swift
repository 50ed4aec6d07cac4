import Foundation
import KilnCrypto
import KilnTestSupport
import XCTest

final class SignatureTests: XCTestCase {
    func openssl(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        try TestSupport.run("openssl", args)
    }

    func testKilnSignaturesVerifyWithOpenSSLAndBack() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let data = Data(try Random.bytes(10_000))
        let dataPath = "\(dir)/data"
        try data.write(to: URL(fileURLWithPath: dataPath))
        for (name, type) in [("rsa", KeyType.rsa(bits: 2048)), ("ec", .ecdsaP256)] {
            let key = try PrivateKey.generate(type)
            let keyPath = "\(dir)/\(name).key", pubPath = "\(dir)/\(name).pub"
            try key.save(to: keyPath)
            try key.publicKey.pem().write(to: URL(fileURLWithPath: pubPath))

            // kiln signs, openssl verifies.
            let sig = try key.sign(data)
            try Data(sig).write(to: URL(fileURLWithPath: "\(dir)/\(name).sig"))
            let v = try openssl(["dgst", "-sha256", "-verify", pubPath, "-signature", "\(dir)/\(name).sig", dataPath])
            XCTAssertEqual(v.status, 0, "\(name): \(v.out) \(v.err)")
            XCTAssertTrue(v.out.contains("Verified OK"))

            // openssl signs, kiln verifies; a flipped bit fails.
            let s = try openssl(["dgst", "-sha256", "-sign", keyPath, "-out", "\(dir)/\(name).osig", dataPath])
            XCTAssertEqual(s.status, 0, s.err)
            let osig = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(name).osig")))
            let pub = try PublicKey.load(path: pubPath)
            XCTAssertTrue(try pub.verify(signature: osig, data: data))
            var tampered = data
            tampered[17] ^= 1
            XCTAssertFalse(try pub.verify(signature: osig, data: tampered))
            XCTAssertFalse(try pub.verify(signature: Array(osig.dropLast()), data: data))
            XCTAssertFalse(try pub.verify(signature: [], data: data))
        }
    }

    func testSHA1VerifyOnlyAndSHA512() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let key = try PrivateKey.generate(.rsa(bits: 2048))
        XCTAssertThrowsError(try key.sign(Data("x".utf8), digest: .sha1)) { e in
            XCTAssertTrue("\(e)".contains("SHA1"), "\(e)")
        }
        // A legacy RSA-SHA1 signature made by openssl still verifies.
        let keyPath = "\(dir)/k", dataPath = "\(dir)/d", sigPath = "\(dir)/s"
        try key.save(to: keyPath)
        try Data("legacy".utf8).write(to: URL(fileURLWithPath: dataPath))
        XCTAssertEqual(try openssl(["dgst", "-sha1", "-sign", keyPath, "-out", sigPath, dataPath]).status, 0)
        let sig = [UInt8](try Data(contentsOf: URL(fileURLWithPath: sigPath)))
        XCTAssertTrue(try key.publicKey.verify(signature: sig, data: Data("legacy".utf8), digest: .sha1))
        XCTAssertFalse(try key.publicKey.verify(signature: sig, data: Data("legacy".utf8), digest: .sha256))
        let s512 = try key.sign(Data("x".utf8), digest: .sha512)
        XCTAssertTrue(try key.publicKey.verify(signature: s512, data: Data("x".utf8), digest: .sha512))
    }
}
