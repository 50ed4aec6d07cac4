import Foundation
import KilnAPK
import KilnTestSupport
import XCTest

/// `kiln index`, `kiln apk verify`, `kiln apk info [--json]` through the built binary.
final class CLITests: XCTestCase {
    func testIndexVerifyInfo() throws {
        let tmp = try TestSupport.temporaryDirectory(self, prefix: "kiln-cli")
        let key = try TestKey.make(in: tmp)
        try Fixture.simpleTree(tmp + "/t")
        let out = try APKWriter.write(spec: Fixture.spec(), root: tmp + "/t", repository: tmp + "/repo", signer: key.signer)
        let env = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "SOURCE_DATE_EPOCH": "1700000000"]

        var r = try KilnBinary.run(["index", tmp + "/repo/x86_64", "--signing-key", key.privatePath, "--key", key.publicPath], environment: env)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("1 packages"), r.out)
        let index = tmp + "/repo/x86_64/APKINDEX.tar.gz"

        r = try KilnBinary.run(["apk", "verify", out.path, index, "--key", key.publicPath], environment: env)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("hello-2.12.1-r1"), r.out)
        XCTAssertTrue(r.out.contains("signed by kiln-test.rsa.pub"), r.out)

        // Wrong key: exit 1 and a clear message.
        let other = try TestKey.make(in: tmp, name: "other.rsa")
        r = try KilnBinary.run(["apk", "verify", out.path, "--key", other.publicPath], environment: env)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("UNTRUSTED"), r.err)
        // Not a package: a clean error, no crash.
        try Data("junk".utf8).write(to: URL(fileURLWithPath: tmp + "/junk.apk"))
        r = try KilnBinary.run(["apk", "verify", tmp + "/junk.apk", "--key", key.publicPath], environment: env)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("kiln: error:"), r.err)

        r = try KilnBinary.run(["apk", "info", out.path, "--key", key.publicPath], environment: env)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("hello-2.12.1-r1 (x86_64)"), r.out)
        XCTAssertTrue(r.out.contains(out.checksum), r.out)

        r = try KilnBinary.run(["apk", "info", "--json", out.path, "--key", key.publicPath], environment: env)
        XCTAssertEqual(r.status, 0, r.err)
        let j = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        XCTAssertEqual(j["checksum"] as? String, out.checksum)
        XCTAssertEqual(j["trustedKey"] as? String, "kiln-test.rsa.pub")
        XCTAssertEqual((j["pkginfo"] as? [String: Any])?["pkgname"] as? String, "hello")
        XCTAssertTrue(((j["files"] as? [[String: Any]]) ?? []).contains { $0["path"] as? String == "usr/bin/hello" && ($0["sha1"] as? String)?.count == 40 })

        // Missing signing key: a clear error.
        r = try KilnBinary.run(["index", tmp + "/repo/x86_64", "--signing-key", tmp + "/nope.rsa"], environment: env)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("make keys"), r.err)
    }

    /// `--keyring` means the same in `apk verify`, `apk info` and `index`: repeatable, each value a
    /// public key file or a directory of them (it used to be a directory in apk, absent in index).
    func testKeyringTakesFilesAndDirectoriesEverywhere() throws {
        let tmp = try TestSupport.temporaryDirectory(self, prefix: "kiln-cli")
        for d in ["ring", "elsewhere"] { try FileManager.default.createDirectory(atPath: tmp + "/" + d, withIntermediateDirectories: true) }
        let key = try TestKey.make(in: tmp + "/ring")
        let other = try TestKey.make(in: tmp + "/elsewhere", name: "other.rsa")
        try Fixture.simpleTree(tmp + "/t")
        let out = try APKWriter.write(spec: Fixture.spec(), root: tmp + "/t", repository: tmp + "/repo", signer: key.signer)
        let env = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "SOURCE_DATE_EPOCH": "1700000000"]
        for ring in [[key.publicPath], [tmp + "/ring"], [other.publicPath, tmp + "/ring"]] {
            let args = ring.flatMap { ["--keyring", $0] }
            var r = try KilnBinary.run(["apk", "verify", out.path] + args, environment: env)
            XCTAssertEqual(r.status, 0, "\(ring): " + r.err)
            r = try KilnBinary.run(["index", tmp + "/repo/x86_64", "--signing-key", key.privatePath, "--verify-all"] + args, environment: env)
            XCTAssertEqual(r.status, 0, "\(ring): " + r.err)
            XCTAssertTrue(r.out.contains("1 packages (1 read and checked)"), "\(ring): " + r.out)
        }
        let r = try KilnBinary.run(["apk", "verify", out.path, "--keyring", other.publicPath], environment: env)
        XCTAssertEqual(r.status, 1, r.out)
        XCTAssertTrue(r.err.contains("UNTRUSTED"), r.err)
    }

    /// In FIPS mode (OpenSSL FIPS provider only) packages and indexes are signed and verified the
    /// same way: RSA PKCS#1 v1.5 + SHA-256; SHA-1 only as a checksum. Needs a FIPS provider.
    func testIndexAndVerifyInFIPSMode() throws {
        guard let conf = ProcessInfo.processInfo.environment["KILN_TEST_FIPS_CONF"], !conf.isEmpty else {
            throw XCTSkip("KILN_TEST_FIPS_CONF is not set (no OpenSSL FIPS provider on this machine)")
        }
        let tmp = try TestSupport.temporaryDirectory(self, prefix: "kiln-cli-fips")
        let key = try TestKey.make(in: tmp)
        try Fixture.simpleTree(tmp + "/t")
        let out = try APKWriter.write(spec: Fixture.spec(), root: tmp + "/t", repository: tmp + "/repo", signer: key.signer)
        var env = ProcessInfo.processInfo.environment
        env["OPENSSL_CONF"] = conf
        var r = try KilnBinary.run(["--fips", "index", tmp + "/repo/x86_64", "--signing-key", key.privatePath], environment: env)
        XCTAssertEqual(r.status, 0, r.err)
        r = try KilnBinary.run(["--fips", "apk", "verify", out.path, tmp + "/repo/x86_64/APKINDEX.tar.gz", "--key", key.publicPath], environment: env)
        XCTAssertEqual(r.status, 0, r.err)
    }
}
