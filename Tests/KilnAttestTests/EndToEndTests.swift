import Foundation
import KilnOCI
import KilnAPK
import KilnAttest
import KilnCore
import KilnCrypto
import KilnTestSupport
import XCTest

/// The whole chain with kiln's own writers: KilnAPK packages (with their SBOMs) in a signed
/// repository → `kiln image --sign-key` (both variants, signed and attested) → `kiln verify`.
final class EndToEndTests: XCTestCase {
    func package(_ repo: String, _ signer: APKSigner, _ dir: String, name: String, version: String, depends: [String] = [],
                 files: [String: String], source: String) throws {
        let root = dir + "/root-" + name
        for (path, text) in files {
            let p = root + "/" + path
            try FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: p, atomically: true, encoding: .utf8)
        }
        var spec = PackageSpec(name: name, version: version, epoch: 0, arch: "x86_64")
        spec.license = "Apache-2.0"
        spec.description = "\(name) for the attest test"
        spec.url = "https://example.org/\(name)"
        spec.supplier = "kiln"
        spec.buildDate = 1_700_000_000
        spec.dependencies.runtime = depends
        spec.sources = [.init(uri: source, sha256: try Digest.sha256Hex(Data(source.utf8)))]
        try APKRepository.add(spec: spec, root: root, repository: repo, signer: signer)
    }

    func testImageSignKeyAttachesWhatVerifyAccepts() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let repo = dir + "/repo"
        let apkKey = try PrivateKey.generate(.rsa(bits: 2048))
        let signer = try APKSigner(key: apkKey, keyName: "attest-test.rsa.pub")
        try AtomicFile.write(try apkKey.publicKey.pem(), to: dir + "/attest-test.rsa.pub")
        try package(repo, signer, dir, name: "hello", version: "2.12.1",
                    files: ["usr/share/hello/greeting.txt": "hello\n"], source: "https://ftp.gnu.org/gnu/hello/hello-2.12.1.tar.gz")
        try package(repo, signer, dir, name: "openssl-fips-provider", version: "3.0.22",
                    files: ["usr/lib/ossl-modules/fips.so": "not really a provider\n",
                            "etc/ssl/fipsmodule.cnf": "[fips_sect]\nactivate = 1\n"],
                    source: "https://www.openssl.org/source/openssl-3.0.22.tar.gz")
        try package(repo, signer, dir, name: "openssl-config-fips", version: "1", depends: ["openssl-fips-provider"],
                    files: ["etc/ssl/openssl.cnf": ".include /etc/ssl/fipsmodule.cnf\n[algorithm_sect]\ndefault_properties = fips=yes\n"],
                    source: "https://example.org/openssl-config-fips-1.tar.gz")
        let config = dir + "/hello.yaml"
        try """
            contents:
              repositories: [\(repo)]
              keyring: [\(dir)/attest-test.rsa.pub]
              packages: [hello]
            entrypoint:
              command: /bin/true
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let key = try Fixture.keyPair(dir, name: "cosign")
        var env = ProcessInfo.processInfo.environment
        env["KILN_FIPS"] = nil
        env["SOURCE_DATE_EPOCH"] = nil
        let layout = dir + "/hello"
        let img = try TestSupport.kiln(["image", config, "--out", layout, "--sign-key", key.keyPath, "--source-date-epoch", "1700000000"],
                                       environment: env)
        XCTAssertEqual(img.status, 0, img.err)
        let tags = img.out.split(separator: "\n").map { $0.split(separator: " ") }.filter { $0.count == 2 }
        XCTAssertEqual(tags.count, 2, img.out)
        guard let fipsTag = tags.first(where: { $0[0].hasSuffix("-fips") }).map({ String($0[0]) }),
              let stdLine = tags.first(where: { !$0[0].hasSuffix("-fips") }) else { return XCTFail(img.out) }

        let v = try TestSupport.kiln(["verify", layout, "--key", key.pubPath], environment: env)
        XCTAssertEqual(v.status, 0, v.out + v.err)
        XCTAssertTrue(v.out.contains("ok    sbom \(fipsTag): SPDX lists the 3 installed packages exactly"), v.out)
        let vf = try TestSupport.kiln(["verify", "\(layout):\(fipsTag)", "--key", key.pubPath, "--require-fips", "--json"], environment: env)
        // The stand-in provider ("not really a provider") has no module-mac: the boundary audit that
        // --sign-key attached fails, so --require-fips refuses the image after its variant checks pass.
        XCTAssertEqual(vf.status, 1, vf.out + vf.err)
        let vfj = try JSON.parse(Data(vf.out.utf8))
        XCTAssertTrue(vfj["checks"]?.array?.contains { $0["check"]?.string == "fips \(fipsTag)" && $0["ok"] == .bool(true) } ?? false, vf.out)
        XCTAssertTrue(vfj["error"]?.string?.contains("the boundary audit failed (verdict fail)") ?? false, vf.out)
        XCTAssertTrue(vfj["error"]?.string?.contains("module-mac-missing /etc/ssl/fipsmodule.cnf") ?? false, vf.out)
        let vs = try TestSupport.kiln(["verify", "\(layout):\(stdLine[0])", "--key", key.pubPath, "--require-fips"], environment: env)
        XCTAssertEqual(vs.status, 1, vs.out)

        // SBOM files beside the layout; the packages' own SBOMs (licence, source) made it in.
        let spdx = try JSON.parse(try Data(contentsOf: URL(fileURLWithPath: "\(layout)-sbom/\(fipsTag.replacingOccurrences(of: ":", with: "_")).spdx.json")))
        let hello = try XCTUnwrap(spdx["packages"]?.array?.first { $0["SPDXID"]?.string == "SPDXRef-Package-apk-hello-2.12.1-r0" })
        XCTAssertEqual(hello["licenseDeclared"]?.string, "Apache-2.0")
        XCTAssertEqual(hello["supplier"]?.string, "Organization: kiln")
        XCTAssertTrue(spdx["packages"]!.array!.contains { $0["downloadLocation"]?.string == "https://ftp.gnu.org/gnu/hello/hello-2.12.1.tar.gz" })
        // Provenance: config digest, .apk digests, build times.
        let prov = try JSON.parse(try Data(contentsOf: URL(fileURLWithPath: "\(layout)-sbom/\(fipsTag.replacingOccurrences(of: ":", with: "_")).provenance.json")))
        let deps = prov["predicate"]!["buildDefinition"]!["resolvedDependencies"]!.array!
        XCTAssertEqual(deps.first?["digest"]?["sha256"]?.string, try Digest.hashFile(.sha256, path: config).hexString)
        let apk = repo + "/x86_64/hello-2.12.1-r0.apk"
        XCTAssertEqual(deps.first { $0["name"]?.string == "hello" }?["digest"]?["sha256"]?.string, try Digest.hashFile(.sha256, path: apk).hexString)
        XCTAssertNotNil(prov["predicate"]!["runDetails"]!["metadata"]?["startedOn"]?.string)

        // Rebuilding replaces the layout: the signatures must be made again (verify says so).
        let rebuilt = try TestSupport.kiln(["image", config, "--out", layout, "--source-date-epoch", "1700000000"], environment: env)
        XCTAssertEqual(rebuilt.status, 0, rebuilt.err)
        XCTAssertTrue(rebuilt.out.contains(String(stdLine[1])), "same inputs, same digest")
        let unsigned = try TestSupport.kiln(["verify", layout, "--key", key.pubPath], environment: env)
        XCTAssertEqual(unsigned.status, 1)
        XCTAssertTrue(unsigned.err.contains("no signature"), unsigned.err)
    }
}
