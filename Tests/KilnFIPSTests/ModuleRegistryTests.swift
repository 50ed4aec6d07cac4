import Foundation
import KilnCrypto
import KilnFIPS
import KilnTestSupport
import XCTest

final class ModuleRegistryTests: XCTestCase {
    static let sha312 = "a0ce69b8b97ea6a35b96875235aa453b966ba3cba8af2de23657d8b6767d6539"   // openssl-3.1.2.tar.gz
    static let sha309 = "eb1ab04781474360f77c318ab89d8c5a03abc38e63d65a603cabbf1b00a1dc90"   // openssl-3.0.9.tar.gz
    static let sha3022 = "67ebca7e50d17383028045486653492195b83db95f8558709701bb47b5c1ef81"  // openssl-3.0.22 (Debian orig)

    /// 2026-11-27T00:00:00Z
    let today: Int64 = 1_795_737_600

    func registry() throws -> FIPSModuleRegistry {
        try FIPSModuleRegistry.load(path: TestSupport.packageRoot + "/" + FIPSModuleRegistry.defaultPath)
    }

    func testRepositoryRegistryListsTheKnownCertificates() throws {
        let r = try registry()
        let m312 = try XCTUnwrap(r.modules.first { $0.version == "3.1.2" })
        XCTAssertEqual(m312.sha256, Self.sha312)
        XCTAssertEqual(m312.certificate, "4985")
        XCTAssertEqual(m312.standard, "FIPS 140-3")
        XCTAssertEqual(m312.status, "active")
        XCTAssertEqual(m312.sunset, "2030-03-10")
        for v in ["3.0.8", "3.0.9"] {
            let m = try XCTUnwrap(r.modules.first { $0.version == v })
            XCTAssertEqual(m.certificate, "4282")
            XCTAssertEqual(m.standard, "FIPS 140-2")
            XCTAssertEqual(m.status, "historical")
            XCTAssertEqual(m.historicalSince, "2026-09-22")
        }
        XCTAssertEqual(r.digest.count, 64)
    }

    func testValidatedOnlyForThe312TarballWhileActive() throws {
        let r = try registry()
        let c = r.classify(tarballSHA256: Self.sha312, buildEpoch: today)
        XCTAssertEqual(c.label, .validated)
        XCTAssertEqual(c.module?.certificate, "4985")
        XCTAssertTrue(c.reason.contains("#4985"), c.reason)
        // Upper-case input is the same digest.
        XCTAssertEqual(r.classify(tarballSHA256: Self.sha312.uppercased(), buildEpoch: today).label, .validated)
        // Last day of the certificate still counts; the day after does not.
        let sunset = try XCTUnwrap(FIPSModuleRegistry.endOfDay("2030-03-10"))
        XCTAssertEqual(r.classify(tarballSHA256: Self.sha312, buildEpoch: sunset).label, .validated)
        let after = r.classify(tarballSHA256: Self.sha312, buildEpoch: sunset + 1)
        XCTAssertEqual(after.label, .fipsCapable)
        XCTAssertTrue(after.reason.contains("sunset"), after.reason)
    }

    func testEverythingElseIsFipsCapable() throws {
        let r = try registry()
        // Debian's 3.0.22 (the provider kiln can build here), a historical 140-2 module, a one-bit change.
        for (sha, expectModule) in [(Self.sha3022, false), (Self.sha309, true),
                                    (String(Self.sha312.dropLast()) + "8", false), ("", false), ("not-hex", false)] {
            let c = r.classify(tarballSHA256: sha, buildEpoch: today)
            XCTAssertEqual(c.label, .fipsCapable, sha)
            XCTAssertEqual(c.module != nil, expectModule, sha)
            XCTAssertFalse(c.reason.lowercased().contains("compliant"))
        }
        // A historical certificate never yields validated, whatever the build date claims.
        XCTAssertEqual(r.classify(tarballSHA256: Self.sha309, buildEpoch: 0).label, .fipsCapable)
    }

    func testClassifyHashesATarballFile() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let path = dir + "/openssl-x.tar.gz"
        try Data("not the validated tarball".utf8).write(to: URL(fileURLWithPath: path))
        let r = try registry()
        XCTAssertEqual(try r.classify(tarballPath: path, buildEpoch: today).label, .fipsCapable)
        // A registry that lists this file's digest labels it validated: the decision is the digest.
        let digest = try Digest.hashFile(.sha256, path: path).hexString
        var listed = r.modules[0]; listed.sha256 = digest
        let r2 = FIPSModuleRegistry(modules: [listed])
        XCTAssertEqual(try r2.classify(tarballPath: path, buildEpoch: today).label, .validated)
    }

    func testMalformedRegistryIsRejectedWithItsPath() throws {
        let bad = """
        modules:
          - {name: X, version: "1", tarball: x, uri: u, sha256: ABC, certificate: "1", standard: s, status: active, sunset: 2030-03-10}
        """
        XCTAssertThrowsError(try FIPSModuleRegistry.parse(Data(bad.utf8), source: "reg.yaml")) { e in
            XCTAssertTrue("\(e)".contains("reg.yaml"), "\(e)"); XCTAssertTrue("\(e)".contains("sha256"), "\(e)")
        }
        let badDate = bad.replacingOccurrences(of: "ABC", with: Self.sha312).replacingOccurrences(of: "2030-03-10", with: "2030-02-31")
        XCTAssertThrowsError(try FIPSModuleRegistry.parse(Data(badDate.utf8), source: "reg.yaml")) { e in
            XCTAssertTrue("\(e)".contains("sunset"), "\(e)")
        }
        let badStatus = bad.replacingOccurrences(of: "ABC", with: Self.sha312).replacingOccurrences(of: "active", with: "compliant")
        XCTAssertThrowsError(try FIPSModuleRegistry.parse(Data(badStatus.utf8), source: "reg.yaml"))
    }

    func testStamperWritesIdentityOnlyForProviderTrees() throws {
        let r = try registry()
        let dir = try TestSupport.temporaryDirectory(self)
        // No fips.so: nothing written.
        XCTAssertNil(try FIPSModuleStamper.stamp(packageRoot: dir, package: "libcrypto3", version: "3.0.22",
                                                 sources: [("https://x/openssl-3.0.22.tar.gz", Self.sha3022)],
                                                 buildEpoch: today, registry: r))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/" + FIPSModuleIdentity.packagePath))
        try FileManager.default.createDirectory(atPath: dir + "/usr/lib/ossl-modules", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir + "/" + FIPSModuleIdentity.modulePath, contents: Data([0x7f]))
        // kiln repro runs kiln with umask 0002: the directories the stamp adds must still be 0755.
        let oldMask = umask(0o002)
        let stamped = Result { try FIPSModuleStamper.stamp(
            packageRoot: dir, package: "openssl-fips-provider", version: "3.0.22",
            sources: [("https://x/openssl-3.0.22.tar.gz", Self.sha3022)], buildEpoch: today, registry: r) }
        umask(oldMask)
        let id = try XCTUnwrap(try stamped.get())
        for d in ["usr/share", "usr/share/kiln"] {
            let mode = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: "\(dir)/\(d)")[.posixPermissions] as? Int)
            XCTAssertEqual(mode, 0o755, d)
        }
        XCTAssertEqual(id.label, .fipsCapable)
        XCTAssertNil(id.certificate)
        let back = try XCTUnwrap(try FIPSModuleIdentity.read(root: dir))
        XCTAssertEqual(back, id)
        let text = try String(contentsOfFile: dir + "/" + FIPSModuleIdentity.packagePath, encoding: .utf8)
        XCTAssertTrue(text.contains("\"label\" : \"fips-capable\""), text)
        XCTAssertFalse(text.contains("\"validated\""), text)
        XCTAssertTrue(text.contains("2026-11-27T00:00:00Z"), text)
        // Same inputs → same bytes.
        let again = try FIPSModuleStamper.stamp(packageRoot: dir, package: "openssl-fips-provider", version: "3.0.22",
                                                sources: [("https://x/openssl-3.0.22.tar.gz", Self.sha3022)],
                                                buildEpoch: today, registry: r)
        XCTAssertEqual(try again?.json(), Data(text.utf8))
        // The 3.1.2 source is stamped validated with its certificate.
        let v = try XCTUnwrap(try FIPSModuleStamper.stamp(
            packageRoot: dir, package: "openssl-fips-provider", version: "3.1.2",
            sources: [("https://x/openssl-3.1.2.tar.gz", Self.sha312)], buildEpoch: today, registry: r))
        XCTAssertEqual(v.label, .validated)
        XCTAssertEqual(v.certificate?.number, "4985")
    }
    /// The shipped provider recipes pin what the registry says: 3.1.2 → validated, Debian's 3.0.22 → fips-capable.
    func testShippedProviderRecipesClassifyAsExpected() throws {
        let r = try registry()
        func pinned(_ path: String) throws -> String {
            let text = try String(contentsOfFile: TestSupport.packageRoot + "/" + path, encoding: .utf8)
            let line = try XCTUnwrap(text.split(separator: "\n").first { $0.contains("expected-sha256:") })
            return String(line.split(separator: ":").last!).trimmingCharacters(in: .whitespaces)
        }
        XCTAssertEqual(r.classify(tarballSHA256: try pinned("recipes/fips/openssl-fips-provider-3.1.2.yaml"), buildEpoch: today).label, .validated)
        XCTAssertEqual(r.classify(tarballSHA256: try pinned("recipes/openssl-fips-provider.yaml"), buildEpoch: today).label, .fipsCapable)
    }
}

/// The registry goes through KilnCore's YAML reader like every other YAML input.
final class ModuleRegistryYAMLTests: XCTestCase {
    let entry = "modules:\n  - {name: X, version: \"1\", tarball: x, uri: u, sha256: \(String(repeating: "a", count: 64)), certificate: \"1\", standard: s, status: active, sunset: 2030-03-10}\n"

    func error(_ text: String) -> String {
        do { _ = try FIPSModuleRegistry.parse(Data(text.utf8), source: "reg.yaml"); return "" } catch { return "\(error)" }
    }

    func testReadsTheStrictReadersRules() throws {
        XCTAssertEqual(try FIPSModuleRegistry.parse(Data(entry.utf8), source: "reg.yaml").modules.first?.sunset, "2030-03-10")
        // An unknown key (a misspelt historical-since) is an error at its line, not dropped.
        let typo = error(entry.replacingOccurrences(of: "sunset:", with: "historical-snce: 2030-01-01, sunset:"))
        XCTAssertTrue(typo.hasPrefix("reg.yaml:2:") && typo.contains("unknown key `historical-snce` in modules[0]"), typo)
        // Semantic errors name the line of the bad value.
        XCTAssertTrue(error(entry.replacingOccurrences(of: "active", with: "compliant")).hasPrefix("reg.yaml:2:"))
        XCTAssertTrue(error("modules:\n  - name: X\n    name: Y\n").contains("reg.yaml:3:5: modules[0]: duplicate key `name` (first at line 2)"))
        XCTAssertTrue(error("modules:\n  - name: X\n").contains("modules[0]: missing required key `certificate`"))
        // The alias-bomb limit applies (it did not: YAMLDecoder expanded every alias).
        var bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1...7 { bomb += "\(Character(UnicodeScalar(97 + i)!)): &\(Character(UnicodeScalar(97 + i)!)) [" + Array(repeating: "*\(Character(UnicodeScalar(96 + i)!))", count: 10).joined(separator: ", ") + "]\n" }
        XCTAssertTrue(error(bomb).contains("alias bomb"), error(bomb))
    }

    func testLoadRefusesAFIFOOrDirectory() throws {
        XCTAssertTrue(error("").contains("empty document"))
        XCTAssertThrowsError(try FIPSModuleRegistry.load(path: "/tmp")) { XCTAssertTrue("\($0)".contains("not a regular file"), "\($0)") }
    }
}
