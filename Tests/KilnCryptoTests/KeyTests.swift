import Foundation
import KilnCrypto
import KilnTestSupport
import XCTest

final class KeyTests: XCTestCase {
    func openssl(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        try TestSupport.run("openssl", args)
    }

    func testKeysRoundTripAsPKCS8AndOpenSSLReadsThem() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        for type in [KeyType.rsa(bits: 2048), .ecdsaP256] {
            let key = try PrivateKey.generate(type)
            XCTAssertEqual(key.type, type)
            let path = "\(dir)/k-\(type)"
            try key.save(to: path)
            let text = try String(contentsOfFile: path, encoding: .utf8)
            XCTAssertTrue(text.hasPrefix("-----BEGIN PRIVATE KEY-----"), text)   // PKCS#8
            let attrs = try FileManager.default.attributesOfItem(atPath: path)
            XCTAssertEqual((attrs[.posixPermissions] as? NSNumber)?.intValue, 0o600)
            let r = try openssl(["pkey", "-in", path, "-noout", "-text"])
            XCTAssertEqual(r.status, 0, r.err)
            // Public key: SubjectPublicKeyInfo, same as `openssl pkey -pubout`.
            let pub = try key.publicKey
            XCTAssertEqual(pub.type, type)
            let ours = String(decoding: try pub.pem(), as: UTF8.self)
            XCTAssertEqual(ours, try openssl(["pkey", "-in", path, "-pubout"]).out)
            XCTAssertTrue(ours.hasPrefix("-----BEGIN PUBLIC KEY-----"))
            let back = try PrivateKey.load(path: path)
            XCTAssertEqual(try back.publicKey.der(), try pub.der())
        }
    }

    func testEncryptedKeyRoundTripWrongPasswordAndOpenSSL() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let key = try PrivateKey.generate(.ecdsaP256)
        let path = "\(dir)/enc.key"
        try key.save(to: path, password: "correct horse")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("-----BEGIN ENCRYPTED PRIVATE KEY-----"), text)
        let asn1 = try openssl(["asn1parse", "-in", path])
        XCTAssertEqual(asn1.status, 0, asn1.err)
        for oid in ["PBES2", "PBKDF2", "hmacWithSHA256", "aes-256-cbc"] {
            XCTAssertTrue(asn1.out.contains(oid), "missing \(oid) in\n\(asn1.out)")
        }
        XCTAssertFalse(asn1.out.contains("scrypt"))
        let r = try openssl(["pkey", "-in", path, "-passin", "pass:correct horse", "-noout"])
        XCTAssertEqual(r.status, 0, r.err)
        let back = try PrivateKey.load(path: path, password: "correct horse")
        XCTAssertEqual(try back.publicKey.der(), try key.publicKey.der())
        XCTAssertThrowsError(try PrivateKey.load(path: path, password: "wrong")) { e in
            XCTAssertEqual(e as? CryptoError, .wrongPassword(source: path))
            XCTAssertTrue("\(e)".contains("wrong password"), "\(e)")
        }
        if ProcessInfo.processInfo.environment["KILN_KEY_PASSWORD"] == nil {
            XCTAssertThrowsError(try PrivateKey.load(path: path)) { e in
                XCTAssertEqual(e as? CryptoError, .passwordRequired(source: path))
            }
        }
    }

    func testOpenSSLEncryptedKeyLoads() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let path = "\(dir)/o.key"
        let g = try openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                             "-aes-256-cbc", "-pass", "pass:pw123", "-out", path])
        XCTAssertEqual(g.status, 0, g.err)
        XCTAssertEqual(try PrivateKey.load(path: path, password: "pw123").type, .rsa(bits: 2048))
    }

    func testMalformedAndForeignKeysGiveClearErrors() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let cases: [(String, String)] = [
            ("garbage", "not a PEM private key"),
            ("-----BEGIN PRIVATE KEY-----\nAAAAbm90IGEga2V5\n-----END PRIVATE KEY-----\n", "malformed private key"),
            ("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\neyJrZGYiOnt9fQ==\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n", "scrypt"),
            ("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\neyJrZGYiOnt9fQ==\n-----END ENCRYPTED COSIGN PRIVATE KEY-----\n", "not FIPS-approved"),
        ]
        for (i, (content, expect)) in cases.enumerated() {
            let path = "\(dir)/bad\(i).key"
            try content.write(toFile: path, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try PrivateKey.load(path: path, password: "x")) { e in
                let msg = "\(e)"
                XCTAssertTrue(msg.contains(path) && msg.contains(expect), msg)
                XCTAssertFalse(msg.contains("\n"), msg)
            }
        }
        XCTAssertThrowsError(try PrivateKey.load(path: "\(dir)/missing.key")) { e in
            XCTAssertTrue("\(e)".contains("missing.key"), "\(e)")
        }
        XCTAssertThrowsError(try PublicKey(pem: Data("nope".utf8), source: "pub.pem")) { e in
            XCTAssertTrue("\(e)".contains("pub.pem"), "\(e)")
        }
        // Ed25519 is not a kiln key type.
        let ed = "\(dir)/ed.key"
        XCTAssertEqual(try openssl(["genpkey", "-algorithm", "ED25519", "-out", ed]).status, 0)
        XCTAssertThrowsError(try PrivateKey.load(path: ed)) { e in
            XCTAssertTrue("\(e)".contains("ED25519"), "\(e)")
        }
    }

    func testRSASizesOutsideRangeAreRefused() throws {
        XCTAssertThrowsError(try PrivateKey.generate(.rsa(bits: 1024))) { e in
            XCTAssertTrue("\(e)".contains("RSA-1024"), "\(e)")
        }
        XCTAssertThrowsError(try PrivateKey.generate(.rsa(bits: 8192)))
    }
}
