import Foundation
@testable import KilnCrypto
import KilnTestSupport
import XCTest

/// FIPS mode: a missing provider is a clear error (never a fallback); with a real FIPS provider
/// (KILN_TEST_FIPS_CONF = an OpenSSL config including fipsmodule.cnf) approved algorithms work
/// and non-approved ones are refused by name.
final class FIPSTests: XCTestCase {
    override func tearDown() {
        CryptoProvider.resetForTesting()
    }

    /// Runs `body` with environment variables set, restoring them afterwards.
    func withEnvironment<T>(_ vars: [String: String?], _ body: () throws -> T) rethrows -> T {
        let old = vars.keys.map { ($0, ProcessInfo.processInfo.environment[$0]) }
        for (k, v) in vars { if let v { setenv(k, v, 1) } else { unsetenv(k) } }
        defer { for (k, v) in old { if let v { setenv(k, v, 1) } else { unsetenv(k) } } }
        return try body()
    }

    func testMissingProviderIsAClearErrorNotAFallback() throws {
        let empty = try TestSupport.temporaryDirectory(self)
        let conf = "\(empty)/openssl.cnf"
        try """
            openssl_conf = openssl_init
            [openssl_init]
            providers = provider_sect
            [provider_sect]
            fips = fips_sect
            [fips_sect]
            activate = 1
            """.write(toFile: conf, atomically: true, encoding: .utf8)
        for config in [nil, conf, "\(empty)/missing.cnf"] {
            try withEnvironment(["OPENSSL_MODULES": empty, "OPENSSL_CONF": nil]) {
                XCTAssertThrowsError(try CryptoProvider.enableFIPS(config: config)) { e in
                    guard case .fipsUnavailable = e as? CryptoError else { return XCTFail("\(e)") }
                    XCTAssertFalse("\(e)".contains("\n"), "\(e)")
                }
            }
            XCTAssertFalse(CryptoProvider.isFIPS)
            XCTAssertNil(CryptoProvider.context)
        }
        // kiln still works outside FIPS mode afterwards.
        XCTAssertEqual(try Digest.sha256Hex(Data()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    func testCLIWithFIPSAndNoProviderExitsWithOneLine() throws {
        let empty = try TestSupport.temporaryDirectory(self)
        var env = ProcessInfo.processInfo.environment
        env["OPENSSL_MODULES"] = empty
        env.removeValue(forKey: "OPENSSL_CONF")
        for (args, extra) in [(["--fips", "version"], [:]), (["version", "--fips"], [:]),
                              (["version"], ["KILN_FIPS": "1"]),
                              (["keygen", "--out", "\(empty)/k"], ["KILN_FIPS": "1"])] {
            let r = try TestSupport.kiln(args, environment: env.merging(extra) { $1 })
            XCTAssertNotEqual(r.status, 0, args.joined(separator: " "))
            XCTAssertEqual(r.out, "")
            XCTAssertEqual(r.err.split(separator: "\n").count, 1, r.err)
            XCTAssertTrue(r.err.hasPrefix("kiln: error: FIPS mode: "), r.err)
            XCTAssertTrue(r.err.contains("fips.so"), r.err)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: empty), [], "no key written")
    }

    func fipsConfig() throws -> String {
        guard let conf = ProcessInfo.processInfo.environment["KILN_TEST_FIPS_CONF"], !conf.isEmpty else {
            throw XCTSkip("KILN_TEST_FIPS_CONF is not set (no OpenSSL FIPS provider on this machine)")
        }
        return conf
    }

    func testFIPSModeApprovedAlgorithmsWork() throws {
        let conf = try fipsConfig()
        try CryptoProvider.enableFIPS(config: conf)
        XCTAssertTrue(CryptoProvider.isFIPS)
        XCTAssertTrue(CryptoProvider.loadedProviders.contains { $0.contains("FIPS") }, "\(CryptoProvider.loadedProviders)")
        XCTAssertFalse(CryptoProvider.loadedProviders.contains { $0.hasSuffix("(default)") })
        XCTAssertEqual(try Digest.sha256Hex(Data("abc".utf8)),
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(try Digest.hash(.sha1, Data("abc".utf8)).hexString, "a9993e364706816aba3e25717850c26c9cd0d89d")
        let dir = try TestSupport.temporaryDirectory(self)
        for type in [KeyType.rsa(bits: 2048), .ecdsaP256] {
            let key = try PrivateKey.generate(type)
            let sig = try key.sign(Data("m".utf8))
            XCTAssertTrue(try key.publicKey.verify(signature: sig, data: Data("m".utf8)))
            let path = "\(dir)/\(type).key"
            try key.save(to: path, password: "fips password")
            XCTAssertEqual(try PrivateKey.load(path: path, password: "fips password").type, type)
            XCTAssertThrowsError(try PrivateKey.load(path: path, password: "wrong"))
            let r = try TestSupport.run("openssl", ["pkey", "-in", path, "-passin", "pass:fips password", "-noout"])
            XCTAssertEqual(r.status, 0, r.err)
        }
    }

    func testFIPSModeRefusesNonApprovedByName() throws {
        let conf = try fipsConfig()
        let dir = try TestSupport.temporaryDirectory(self)
        let ed = "\(dir)/ed.key", rsa1024 = "\(dir)/rsa1024.key"
        XCTAssertEqual(try TestSupport.run("openssl", ["genpkey", "-algorithm", "ED25519", "-out", ed]).status, 0)
        XCTAssertEqual(try TestSupport.run("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", rsa1024]).status, 0)
        try CryptoProvider.enableFIPS(config: conf)
        let key = try PrivateKey.generate(.rsa(bits: 2048))
        XCTAssertThrowsError(try key.sign(Data("m".utf8), digest: .sha1)) { e in
            XCTAssertTrue("\(e)".contains("RSA-SHA1") && "\(e)".contains("FIPS"), "\(e)")
        }
        XCTAssertThrowsError(try PrivateKey.generate(.rsa(bits: 1024))) { e in
            XCTAssertTrue("\(e)".contains("RSA-1024"), "\(e)")
        }
        for (path, name) in [(ed, "ED25519"), (rsa1024, "RSA-1024")] {
            XCTAssertThrowsError(try PrivateKey.load(path: path)) { e in
                XCTAssertTrue("\(e)".contains(name), "\(e)")
            }
        }
    }

    func testCLIVersionInFIPSMode() throws {
        let conf = try fipsConfig()
        let r = try TestSupport.kiln(["--fips", "--fips-config", conf, "version"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("fips mode: on"), r.out)
        XCTAssertTrue(r.out.contains("FIPS Provider"), r.out)
    }
}
