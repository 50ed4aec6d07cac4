import Foundation
import KilnTestSupport
import XCTest

/// `kiln keygen` and `kiln version` through the built binary.
final class CLITests: XCTestCase {
    func testKeygenWritesPKCS8PairsThatOpenSSLReads() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "KILN_KEY_PASSWORD")
        env.removeValue(forKey: "KILN_FIPS")
        let rsa = try TestSupport.kiln(["keygen", "--type", "rsa", "--bits", "2048", "--out", "keys/kiln-dev"], environment: env, cwd: dir)
        XCTAssertEqual(rsa.status, 0, rsa.err)
        let ec = try TestSupport.kiln(["keygen", "--type", "ecdsa", "--out", "keys/cosign-dev"], environment: env, cwd: dir)
        XCTAssertEqual(ec.status, 0, ec.err)
        for (priv, pub) in [("kiln-dev.rsa", "kiln-dev.rsa.pub"), ("cosign-dev.key", "cosign-dev.pub")] {
            let privPath = "\(dir)/keys/\(priv)", pubPath = "\(dir)/keys/\(pub)"
            let mode = (try FileManager.default.attributesOfItem(atPath: privPath)[.posixPermissions] as? NSNumber)?.intValue
            XCTAssertEqual(mode, 0o600, priv)
            XCTAssertTrue(try String(contentsOfFile: privPath, encoding: .utf8).hasPrefix("-----BEGIN PRIVATE KEY-----"))
            let derived = try TestSupport.run("openssl", ["pkey", "-in", privPath, "-pubout"])
            XCTAssertEqual(derived.status, 0, derived.err)
            XCTAssertEqual(try String(contentsOfFile: pubPath, encoding: .utf8), derived.out, pub)
        }
        let text = try TestSupport.run("openssl", ["pkey", "-in", "\(dir)/keys/kiln-dev.rsa", "-noout", "-text"])
        XCTAssertTrue(text.out.contains("2048 bit"), text.out)
        // No silent overwrite: one-line error, non-zero exit.
        let again = try TestSupport.kiln(["keygen", "--type", "ecdsa", "--out", "keys/cosign-dev"], environment: env, cwd: dir)
        XCTAssertNotEqual(again.status, 0)
        XCTAssertEqual(again.err.split(separator: "\n").count, 1, again.err)
        XCTAssertTrue(again.err.contains("already exists"), again.err)
    }

    func testKeygenEncryptsWithKeyPassword() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        var env = ProcessInfo.processInfo.environment
        env["KILN_KEY_PASSWORD"] = "s3cret pass"
        let r = try TestSupport.kiln(["keygen", "--type", "ecdsa", "--out", "\(dir)/enc"], environment: env)
        XCTAssertEqual(r.status, 0, r.err)
        let path = "\(dir)/enc.key"
        XCTAssertTrue(try String(contentsOfFile: path, encoding: .utf8).hasPrefix("-----BEGIN ENCRYPTED PRIVATE KEY-----"))
        XCTAssertEqual(try TestSupport.run("openssl", ["pkey", "-in", path, "-passin", "pass:s3cret pass", "-noout"]).status, 0)
        XCTAssertNotEqual(try TestSupport.run("openssl", ["pkey", "-in", path, "-passin", "pass:nope", "-noout"]).status, 0)
    }

    func testBadKeygenArgumentsFailWithOneLine() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        for args in [["--bits", "1024"], ["--bits", "8192"], ["--type", "ecdsa", "--bits", "384"]] {
            let r = try TestSupport.kiln(["keygen", "--out", "\(dir)/k"] + args)
            XCTAssertNotEqual(r.status, 0, args.joined(separator: " "))
            XCTAssertEqual(r.err.split(separator: "\n").count, 1, r.err)
            XCTAssertTrue(r.err.hasPrefix("kiln: error: "), r.err)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [])
    }

    func testVersionReportsOpenSSLAndProviders() throws {
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "KILN_FIPS")
        let r = try TestSupport.kiln(["version"], environment: env)
        XCTAssertEqual(r.status, 0, r.err)
        let openssl = try TestSupport.run("openssl", ["version"])
        XCTAssertTrue(r.out.contains("openssl: OpenSSL 3."), r.out)
        XCTAssertTrue(r.out.contains(openssl.out.split(separator: " ").prefix(2).joined(separator: " ")), r.out + openssl.out)
        XCTAssertTrue(r.out.contains("providers: ") && r.out.contains("(default)"), r.out)
        XCTAssertTrue(r.out.contains("fips mode: off"), r.out)
    }
}
