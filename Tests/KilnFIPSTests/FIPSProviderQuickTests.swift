import Foundation
import KilnFIPS
import KilnTestSupport
import XCTest

/// `make test`'s FIPS provider end to end, kept to the provider itself: kiln builds the
/// openssl-fips-provider recipe (Debian's 3.0.22 source) and openssl-config-fips in the sandbox
/// (`--toolchain host`, so `openssl fipsinstall` — the module's self-tests — runs with the host's
/// OpenSSL 3 CLI instead of compiling a second libcrypto), checks the module identity kiln stamped,
/// then loads the built fips.so through the built config: fips active, MD5 refused, SHA-256 works,
/// RSA-1024 keygen refused. The packages-only sandbox with kiln's own OpenSSL (and the curl FIPS
/// variant) is FIPSProviderEndToEndTests under KILN_TEST_FULL=1.
final class FIPSProviderQuickTests: XCTestCase {
    func testProviderRecipeBuildsAndEnforcesFIPS() throws {
        let repo = TestSupport.packageRoot
        let sources = repo + "/out/sources"
        guard FileManager.default.fileExists(atPath: sources + "/sha256/67ebca7e50d17383028045486653492195b83db95f8558709701bb47b5c1ef81") else {
            return XCTFail("the OpenSSL source is not cached: run `make sources` (make test does)")
        }
        let out = try TestSupport.temporaryDirectory(self, prefix: "kiln-fips-quick")
        let started = Date()
        let r = try TestSupport.kiln(["build", "--toolchain", "host", "--offline", "--no-package", "--out", out,
                                      "--source-cache", sources, "--source-date-epoch", "1795737600",
                                      "recipes/openssl-fips-provider.yaml", "recipes/openssl-config-fips.yaml"],
                                     environment: ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "CI": "1"],
                                     cwd: repo)
        XCTAssertEqual(r.status, 0, String(r.err.suffix(4000)))
        guard r.status == 0 else { return }
        print("FIPS quick: provider + config built in \(Int(Date().timeIntervalSince(started)))s")
        let tree = out + "/trees/x86_64/openssl-fips-provider"
        let log = try String(contentsOfFile: out + "/logs/openssl-fips-provider-3.0.22-r0-x86_64.log", encoding: .utf8)
        XCTAssertTrue(log.contains("INSTALL PASSED"), String(log.suffix(3000)))
        XCTAssertTrue(r.err.contains("is fips-capable"), r.err)
        XCTAssertFalse(r.err.contains("is validated"), r.err)

        let id = try XCTUnwrap(try FIPSModuleIdentity.read(root: tree))
        XCTAssertEqual(id.label, .fipsCapable)
        XCTAssertEqual(id.version, "3.0.22")
        XCTAssertEqual(id.package, "openssl-fips-provider")
        XCTAssertEqual(id.source.sha256, "67ebca7e50d17383028045486653492195b83db95f8558709701bb47b5c1ef81")
        XCTAssertNil(id.certificate)
        let module = try String(contentsOfFile: tree + "/etc/ssl/fipsmodule.cnf", encoding: .utf8)
        XCTAssertTrue(module.contains("module-mac"), module)
        XCTAssertFalse(module.contains("/home/build"), module)

        // The built config, with its include pointed at the built fipsmodule.cnf.
        let shipped = try String(contentsOfFile: out + "/trees/x86_64/openssl-config-fips/etc/ssl/openssl.cnf", encoding: .utf8)
        XCTAssertTrue(shipped.contains(".include /etc/ssl/fipsmodule.cnf"), shipped)
        XCTAssertTrue(shipped.contains("default_properties = fips=yes"), shipped)
        XCTAssertFalse(shipped.contains("default = default_sect"), shipped)
        let cnf = out + "/openssl-fips.cnf"
        try shipped.replacingOccurrences(of: ".include /etc/ssl/fipsmodule.cnf", with: ".include \(tree)/etc/ssl/fipsmodule.cnf")
            .write(toFile: cnf, atomically: true, encoding: .utf8)
        let env = ["PATH": "/usr/bin:/bin", "OPENSSL_CONF": cnf, "OPENSSL_MODULES": tree + "/usr/lib/ossl-modules"]
        func ossl(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
            try TestSupport.run("/usr/bin/openssl", args, environment: env, cwd: out)
        }
        let providers = try ossl(["list", "-providers"])
        XCTAssertEqual(providers.status, 0, providers.err)
        XCTAssertTrue(providers.out.contains("OpenSSL FIPS Provider"), providers.out)
        XCTAssertTrue(providers.out.contains("version: 3.0.22"), providers.out)
        XCTAssertTrue(providers.out.contains("status: active"), providers.out)
        XCTAssertFalse(providers.out.contains("OpenSSL Default Provider"), providers.out)
        let md5 = try ossl(["dgst", "-md5", cnf])
        XCTAssertNotEqual(md5.status, 0, "MD5 must be refused: \(md5.out)")
        let sha = try ossl(["dgst", "-sha256", cnf])
        XCTAssertEqual(sha.status, 0, sha.err)
        let rsa1024 = try ossl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", out + "/k1.pem"])
        XCTAssertNotEqual(rsa1024.status, 0, "RSA-1024 keygen must be refused")
        let p256 = try ossl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", out + "/k2.pem"])
        XCTAssertEqual(p256.status, 0, p256.err)
        // Control: without the FIPS config the same OpenSSL computes MD5, so the refusal is the config's doing.
        let control = try TestSupport.run("/usr/bin/openssl", ["dgst", "-md5", cnf], environment: ["PATH": "/usr/bin:/bin", "OPENSSL_CONF": "/dev/null"])
        XCTAssertEqual(control.status, 0, control.err)
    }
}
