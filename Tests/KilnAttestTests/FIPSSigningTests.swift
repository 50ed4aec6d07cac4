import Foundation
import KilnArchive
import KilnAttest
import KilnCore
import KilnTestSupport
import XCTest

/// `make demo`'s FIPS signing step (issue 17) on a small scale: an openssl-fips-provider package
/// (the test FIPS provider of `make test-fips-provider`, laid out as the recipe packages it) is
/// extracted by `kiln apk extract` through scripts/fips-module.sh, kiln signs and verifies an image
/// with `--fips` using only that module, reports the module (name, version, build info read through
/// OpenSSL, kiln's label) and records it on the signature. A module that cannot load fails loudly
/// and nothing is signed. ~5 s.
final class FIPSSigningTests: XCTestCase {
    static let identity = """
        {"buildDate": "2026-11-27T03:07:42Z", "label": "fips-capable", "name": "OpenSSL FIPS Provider",
         "package": "openssl-fips-provider", "reason": "not a CMVP-validated module listed in the registry",
         "registry": {"path": "recipes/fips/modules.yaml", "sha256": "00"}, "schema": "https://kiln.dev/fips-module/v1",
         "source": {"sha256": "00", "uri": "https://example.invalid/openssl-3.0.22.tar.gz"}, "version": "VERSION"}
        """

    func testSignAndVerifyInFIPSModeWithTheExtractedModule() throws {
        guard let modules = ProcessInfo.processInfo.environment["OPENSSL_MODULES"],
              let so = FileManager.default.contents(atPath: modules + "/fips.so"),
              let cnf = FileManager.default.contents(atPath: modules + "/fipsmodule.cnf") else {
            throw XCTSkip("OPENSSL_MODULES does not hold the test FIPS provider (make test sets it)")
        }
        let dir = try TestSupport.temporaryDirectory(self)
        let repo = try TestRepo(dir: dir)
        // The provider's version as it reports itself: the identity must agree with it.
        let probe = try TestSupport.kiln(["--fips", "--fips-config", modules + "/openssl-fips.cnf", "version"])
        XCTAssertEqual(probe.status, 0, probe.err)
        guard let version = probe.out.split(separator: "\n").first(where: { $0.hasPrefix("providers:") })?
            .components(separatedBy: "OpenSSL FIPS Provider ").last?.split(separator: " ").first.map(String.init) else {
            return XCTFail("no FIPS provider version in: \(probe.out)")
        }
        let provider = { (identityVersion: String) in TestRepo.Pkg(name: "openssl-fips-provider", version: "3.0.22-r0", files: [
            .directory("etc"), .directory("etc/ssl"), .file("etc/ssl/fipsmodule.cnf", cnf),
            .directory("usr"), .directory("usr/lib"), .directory("usr/lib/ossl-modules"), .file("usr/lib/ossl-modules/fips.so", so, mode: 0o755),
            .directory("usr/share"), .directory("usr/share/kiln"),
            TestRepo.file("usr/share/kiln/fips-module.json", Self.identity.replacingOccurrences(of: "VERSION", with: identityVersion)),
        ]) }
        try repo.add(provider(version))
        let hello = try TestRepo.staticProgram("hello", dir: dir)
        try repo.add(.init(name: "hello", version: "1.0-r0", files: [.directory("usr"), .directory("usr/bin"), .file("usr/bin/hello", hello, mode: 0o755)]))
        try repo.writeIndex()

        let module = dir + "/fips-module"
        let script = TestSupport.packageRoot + "/scripts/fips-module.sh"
        let setup = try TestSupport.run(script, [TestSupport.kilnExecutable, repo.repoDir, module, repo.keyPath])
        XCTAssertEqual(setup.status, 0, setup.out + setup.err)
        let expected = "OpenSSL FIPS Provider \(version) (build \(version)), fips-capable"
        XCTAssertTrue(setup.out.contains("kiln's own crypto (FIPS mode): \(expected) (kiln identity: openssl-fips-provider \(version);"), setup.out)
        let conf = try String(contentsOfFile: module + "/openssl-fips.cnf", encoding: .utf8)
        XCTAssertTrue(conf.contains(".include \(module)/root/etc/ssl/fipsmodule.cnf") && conf.contains("fips = fips_sect")
                      && !conf.contains("default = "), "only the extracted module is activated:\n\(conf)")

        try """
        contents: {repositories: [\(repo.repoDir)], keyring: [\(repo.keyPath)], packages: [hello]}
        entrypoint: {command: /usr/bin/hello}
        """.write(toFile: dir + "/hello.yaml", atomically: true, encoding: .utf8)
        let layout = dir + "/layout"
        let img = try TestSupport.kiln(["image", dir + "/hello.yaml", "--out", layout, "--variant", "standard"])
        XCTAssertEqual(img.status, 0, img.err)
        let kg = try TestSupport.kiln(["keygen", "--type", "ecdsa", "--out", dir + "/cosign"])
        XCTAssertEqual(kg.status, 0, kg.err)

        let env = ["OPENSSL_MODULES": module + "/root/usr/lib/ossl-modules", "PATH": "/usr/bin:/bin"]
        let fips = ["--fips", "--fips-config", module + "/openssl-fips.cnf"]
        let sign = try TestSupport.kiln(fips + ["sign", layout, "--key", dir + "/cosign.key"], environment: env)
        XCTAssertEqual(sign.status, 0, sign.err)
        XCTAssertTrue(sign.out.contains("signed in FIPS mode by \(expected)"), sign.out)
        let sigDigest = try sigManifest(layout)
        let sigManifestText = try String(contentsOfFile: layout + "/blobs/sha256/" + sigDigest.dropFirst(7), encoding: .utf8)
        XCTAssertTrue(sigManifestText.contains("\"\(Attestor.signerModuleAnnotation)\"") && sigManifestText.contains(expected), sigManifestText)
        let verify = try TestSupport.kiln(fips + ["verify", layout, "--key", dir + "/cosign.pub"], environment: env)
        XCTAssertEqual(verify.status, 0, verify.out + verify.err)

        // A module that fails its integrity check (fipsmodule.cnf's MAC no longer matches): loud failure, nothing signed.
        let broken = dir + "/broken.cnf"
        var bad = try String(contentsOfFile: module + "/root/etc/ssl/fipsmodule.cnf", encoding: .utf8)
        bad = bad.replacingOccurrences(of: "module-mac = ", with: "module-mac = 00:")
        try bad.write(toFile: dir + "/bad-fipsmodule.cnf", atomically: true, encoding: .utf8)
        try conf.replacingOccurrences(of: module + "/root/etc/ssl/fipsmodule.cnf", with: dir + "/bad-fipsmodule.cnf")
            .write(toFile: broken, atomically: true, encoding: .utf8)
        let layout2 = dir + "/layout2"
        XCTAssertEqual(try TestSupport.kiln(["image", dir + "/hello.yaml", "--out", layout2, "--variant", "standard"]).status, 0)
        let refused = try TestSupport.kiln(["--fips", "--fips-config", broken, "sign", layout2, "--key", dir + "/cosign.key"], environment: env)
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.err.contains("FIPS mode: the OpenSSL FIPS provider could not be loaded or failed its self-test"), refused.err)
        XCTAssertFalse(try String(contentsOfFile: layout2 + "/index.json", encoding: .utf8).contains(".sig"), "nothing signed in default mode")

        // An identity that names another version than the module reports is refused.
        let repo2 = try TestRepo(dir: dir + "/r2")
        try repo2.add(provider("9.9.9"))
        try repo2.writeIndex()
        let mismatch = try TestSupport.run(script, [TestSupport.kilnExecutable, repo2.repoDir, dir + "/fm2", repo2.keyPath])
        XCTAssertNotEqual(mismatch.status, 0)
        XCTAssertTrue(mismatch.out.contains("reports version \(version), but kiln's identity beside it says openssl-fips-provider 9.9.9"), mismatch.out)

        // kiln apk extract verifies before it writes: a package signed by an untrusted key is refused, nothing extracted.
        let other = try TestSupport.kiln(["keygen", "--type", "rsa", "--bits", "2048", "--out", dir + "/other"])
        XCTAssertEqual(other.status, 0, other.err)
        let apk = repo.repoDir + "/x86_64/openssl-fips-provider-3.0.22-r0.apk"
        let untrusted = try TestSupport.kiln(["apk", "extract", apk, "--key", dir + "/other.rsa.pub", "--out", dir + "/x"])
        XCTAssertEqual(untrusted.status, 1, untrusted.out)
        XCTAssertTrue(untrusted.err.contains(apk), untrusted.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x/usr/lib/ossl-modules/fips.so"))
    }

    /// The digest of the layout's one signature manifest (tag sha256-….sig).
    func sigManifest(_ layout: String) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: layout + "/index.json"))
        let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        let m = (obj?["manifests"] as? [[String: Any]] ?? []).first {
            (($0["annotations"] as? [String: String])?["org.opencontainers.image.ref.name"] ?? "").hasSuffix(".sig")
        }
        return try XCTUnwrap(m?["digest"] as? String)
    }
}
