import Foundation
import KilnAudit
import KilnCore
import KilnFIPS
import KilnOCI
import KilnTestSupport
import XCTest

/// The static boundary audit against real images: each broken variant of a clean FIPS-like image
/// fails with its own named finding, the clean one passes.
final class BoundaryAuditTests: XCTestCase {
    var dir = ""
    var registry: FIPSModuleRegistry?

    override func setUpWithError() throws {
        dir = try TestSupport.temporaryDirectory(self, prefix: "kiln-audit")
        try XCTSkipUnless(FileManager.default.fileExists(atPath: AuditFixture.fipsDir + "/fips.so"),
                          "out/test/fips/fips.so is made by `make test-fips-provider` (part of make test)")
        registry = try FIPSModuleRegistry.load(path: TestSupport.packageRoot + "/" + FIPSModuleRegistry.defaultPath)
    }

    func audit(_ f: AuditFixture, policy: AuditPolicy = AuditPolicy()) throws -> AuditReport {
        let ref = try f.write(dir: dir)
        let reports = try BoundaryAuditor(registry: registry, policy: policy).audit(reference: ref)
        XCTAssertEqual(reports.count, 1)
        return reports[0]
    }

    /// The one finding ids that fail the report (allowed ones excluded).
    func failing(_ r: AuditReport) -> [String] { r.findings.filter { $0.allowed == nil }.map(\.id) }

    func expect(_ f: AuditFixture, finding id: String, path: String? = nil, file: StaticString = #filePath, line: UInt = #line) throws -> AuditFinding? {
        let r = try audit(f)
        XCTAssertFalse(r.passed, "expected \(id):\n\(r.text)", file: file, line: line)
        let hit = r.findings.first { $0.id == id && (path == nil || $0.path == path) }
        XCTAssertNotNil(hit, "expected finding \(id) at \(path ?? "any path"):\n\(r.text)", file: file, line: line)
        return hit
    }

    func testCleanImagePassesAndJSONIsDeterministic() throws {
        let f = try AuditFixture.clean(dir: dir)
        let r = try audit(f)
        XCTAssertTrue(r.passed, r.text)
        XCTAssertEqual(failing(r), [])
        XCTAssertEqual(r.checks.map(\.name), AuditCheckName.staticChecks)
        XCTAssertEqual(r.module?.name, "OpenSSL FIPS Provider")
        XCTAssertEqual(r.module?.label, "fips-capable")   // 3.0.22 is not a listed module
        // The recomputed MAC is the one fipsinstall wrote (the file is the provider `make test-fips-provider` built).
        let cnf = String(decoding: try AuditFixture.read(AuditFixture.fipsDir + "/fipsmodule.cnf"), as: UTF8.self)
        let written = try XCTUnwrap(cnf.split(separator: "\n").first { $0.hasPrefix("module-mac") }?.split(separator: "=").last)
        XCTAssertEqual(r.module?.moduleMAC, written.trimmingCharacters(in: .whitespaces).uppercased())
        XCTAssertTrue(r.checks.first { $0.name == .linkage }!.summary.contains("usr/lib/x86_64-linux-gnu/libcrypto.so.3"), r.text)
        let again = try audit(f)
        XCTAssertEqual(r.json.pretty().count, again.json.pretty().count)
        XCTAssertEqual(String(decoding: r.json.compact(), as: UTF8.self).replacingOccurrences(of: r.image, with: ""),
                       String(decoding: again.json.compact(), as: UTF8.self).replacingOccurrences(of: again.image, with: ""))
    }

    func testSecondLibcrypto() throws {
        var f = try AuditFixture.clean(dir: dir)
        // A stand-in with libcrypto's SONAME (a copy of the real 4.7 MB one costs seconds to pack in a debug build).
        f.files.append(.init(path: "opt/app/lib/libcrypto.so.3", data: try Programs.shared.sonameLibcrypto(dir), mode: 0o755, owner: "app"))
        let hit = try expect(f, finding: "second-libcrypto", path: "opt/app/lib/libcrypto.so.3")
        XCTAssertEqual(hit?.package, "app")
    }

    func testRunpathTmp() throws {
        var f = try AuditFixture.clean(dir: dir)
        f.files.append(.init(path: "usr/bin/runpath", data: try Programs.shared.runpathTmp(dir), mode: 0o755, owner: "app"))
        let hit = try expect(f, finding: "runpath-writable", path: "usr/bin/runpath")
        XCTAssertEqual(hit?.evidence.symbol, "DT_RUNPATH")
        XCTAssertEqual(hit?.evidence.string, "/tmp")
    }

    func testStaticAESTable() throws {
        var f = try AuditFixture.clean(dir: dir)
        let bin = try Programs.shared.staticAES(dir)
        f.files.append(.init(path: "usr/bin/aes", data: bin, mode: 0o755, owner: "app"))
        let hit = try expect(f, finding: "aes-sbox", path: "usr/bin/aes")
        let o = try XCTUnwrap(hit?.evidence.offset)
        XCTAssertEqual(Array(bin[o..<o + 4]), [0x63, 0x7c, 0x77, 0x7b])
    }

    func testModuleWithOneByteChangedFailsTheMAC() throws {
        var f = try AuditFixture.clean(dir: dir)
        var so = try AuditFixture.read(AuditFixture.fipsDir + "/fips.so")
        so[so.count / 2] ^= 0x01
        f.replace("usr/lib/x86_64-linux-gnu/ossl-modules/fips.so", with: so)
        let hit = try expect(f, finding: "module-mac-mismatch")
        XCTAssertEqual(hit?.evidence.symbol, "module-mac")
    }

    func testConfigWithoutFipsProperties() throws {
        var f = try AuditFixture.clean(dir: dir)
        f.replace("usr/lib/ssl/openssl.cnf", with: Data(AuditFixture.enforcingConfig.replacingOccurrences(of: "default_properties = fips=yes", with: "").utf8))
        _ = try expect(f, finding: "config-no-fips-properties", path: "usr/lib/ssl/openssl.cnf")
    }

    func testDefaultProviderActivated() throws {
        var f = try AuditFixture.clean(dir: dir)
        let cnf = AuditFixture.enforcingConfig.replacingOccurrences(of: "base = base_sect\n", with: "base = base_sect\ndefault = default_sect\n")
            + "[default_sect]\nactivate = 1\n"
        f.replace("usr/lib/ssl/openssl.cnf", with: Data(cnf.utf8))
        let r = try audit(f)
        XCTAssertEqual(failing(r), ["config-default-activated"], r.text)
    }

    func testPythonBuiltinMD5() throws {
        var f = try AuditFixture.clean(dir: dir)
        f.files.append(.init(path: "usr/lib/python3.11/lib-dynload/_md5.cpython-311-x86_64-linux-gnu.so", data: try Programs.shared.pythonMD5(dir),
                             mode: 0o755, owner: "python3"))
        f.files.append(.init(path: "usr/lib/python3.11/_sysconfigdata__linux_x86_64-linux-gnu.py",
                             data: Data("build_time_vars = {'PY_BUILTIN_HASHLIB_HASHES': '\"md5,sha1,sha256,sha512,sha3,blake2\"',\n}\n".utf8), owner: "python3"))
        let r = try audit(f)
        XCTAssertTrue(r.findings.contains { $0.id == "python-builtin-hash" && $0.path.hasSuffix("_md5.cpython-311-x86_64-linux-gnu.so") }, r.text)
        XCTAssertTrue(r.findings.contains { $0.id == "python-builtin-hashlib-hashes" }, r.text)
    }

    func testGoBuildInfoWithoutFIPS() throws {
        var f = try AuditFixture.clean(dir: dir)
        f.files.append(.init(path: "usr/bin/gobin", data: try Programs.shared.goBinary(dir), mode: 0o755, owner: "app"))
        let hit = try expect(f, finding: "go-native-crypto", path: "usr/bin/gobin")
        XCTAssertEqual(hit?.evidence.symbol, ".go.buildinfo")
        XCTAssertTrue(hit?.evidence.string?.contains("go1.27.3") ?? false)
    }

    func testGoFIPSModuleIsASecondModuleUnlessThePolicyAllowsIt() throws {
        var f = try AuditFixture.clean(dir: dir)
        f.files.append(.init(path: "usr/bin/gofips", data: try Programs.shared.goBinary(dir, settings: ["GOFIPS140=v1.0.0-c2097c7c", "DefaultGODEBUG=fips140=on"], name: "gofips"),
                             mode: 0o755, owner: "app"))
        _ = try expect(f, finding: "go-fips140", path: "usr/bin/gofips")
        let policy = try AuditPolicy.parse("allow:\n  - path: usr/bin/*\n    finding: go-fips140\n    reason: \"the Go Cryptographic Module (CMVP #5247) is accepted as a second validated module\"\n",
                                           file: "policy.yaml")
        let r = try audit(f, policy: policy)
        XCTAssertTrue(r.passed, r.text)
        let allowed = try XCTUnwrap(r.findings.first { $0.id == "go-fips140" })
        XCTAssertEqual(allowed.allowed, "the Go Cryptographic Module (CMVP #5247) is accepted as a second validated module (policy.yaml:2)")
        XCTAssertTrue(r.text.contains("allowed [go-fips140] /usr/bin/gofips"), r.text)
        XCTAssertTrue(r.text.contains("allowed because: the Go Cryptographic Module"), r.text)
        let json = String(decoding: r.json.compact(), as: UTF8.self)
        XCTAssertTrue(json.contains("\"allowances\":[{\"id\":\"go-fips140\""), json)
    }

    func testImageConfigAllowListFromTheManifestAnnotation() throws {
        var f = try AuditFixture.clean(dir: dir)
        f.files.append(.init(path: "usr/bin/aes", data: try Programs.shared.staticAES(dir), mode: 0o755, owner: "app"))
        f.annotations[FIPSAllowance.annotation] = try FIPSAllowance.annotationValue([FIPSAllowance(path: "/usr/bin/aes", finding: "aes-sbox", reason: "table used for a checksum, not for security")])
        let r = try audit(f)
        XCTAssertTrue(r.passed, r.text)
        XCTAssertTrue(r.findings.first { $0.id == "aes-sbox" }?.allowed?.hasPrefix("table used for a checksum, not for security") ?? false, r.text)
    }

    func testEnvironmentFindingsAndStandardImage() throws {
        var f = try AuditFixture.clean(dir: dir)
        f.env += ["LD_PRELOAD=/opt/hook.so", "OPENSSL_MODULES=/opt/modules"]
        var r = try audit(f)
        XCTAssertEqual(Set(failing(r)), ["env-ld-preload", "env-openssl-modules"], r.text)
        // A standard image (no provider, default config): the findings are what the FIPS twin removes.
        var std = try AuditFixture.clean(dir: dir)
        std.files.removeAll { $0.owner == "openssl-fips-provider" }
        std.replace("usr/lib/ssl/openssl.cnf", with: Data("openssl_conf = openssl_init\n[openssl_init]\n".utf8))
        r = try audit(std)
        XCTAssertTrue(Set(failing(r)).isSuperset(of: ["module-missing", "config-no-include", "config-fips-not-activated", "config-default-activated"]), r.text)
        XCTAssertNil(r.module)
    }

    func testOpenSSLLegacyProviderAndEnginesAreListed() throws {
        var f = try AuditFixture.clean(dir: dir)
        let so = try Programs.shared.pythonMD5(dir)   // any small shared object stands in for the module
        f.files.append(.init(path: "usr/lib/x86_64-linux-gnu/ossl-modules/legacy.so", data: so, mode: 0o755, owner: "libcrypto3"))
        f.files.append(.init(path: "usr/lib/x86_64-linux-gnu/engines-3/padlock.so", data: so, mode: 0o755, owner: "libcrypto3"))
        let r = try audit(f)
        XCTAssertEqual(Set(failing(r)), ["openssl-legacy-provider", "openssl-engine"], r.text)
    }

    func testHTMLPageEscapesAndShowsTheBoundary() throws {
        var f = try AuditFixture.clean(dir: dir)
        f.files.append(.init(path: "usr/bin/<script>alert(1)</script>", data: try Programs.shared.staticAES(dir), mode: 0o755, owner: "app"))
        let r = try audit(f)
        let pages = try AuditHTML.write([r], to: dir + "/html")
        let html = try String(contentsOfFile: pages[0], encoding: .utf8)
        XCTAssertFalse(html.contains("<script>"), "a file name must not become markup")
        XCTAssertTrue(html.contains("/usr/bin/&lt;script&gt;alert(1)&lt;/script&gt;"))
        XCTAssertTrue(html.contains("FAIL") && html.contains("aes-sbox") && html.contains("found outside the boundary"))
        XCTAssertTrue(html.contains("/usr/bin/digest"), "the ELFs that link libcrypto are drawn")
    }

    func testSharedOpenSSLNodeNeedsTheNodejsConfSection() throws {
        var f = try AuditFixture.clean(dir: dir)
        f.files.append(.init(path: "usr/bin/node", data: try Programs.shared.digest(dir), mode: 0o755, owner: "nodejs"))
        let hit = try expect(f, finding: "node-config-bypass", path: "usr/bin/node")
        XCTAssertEqual(hit?.evidence.symbol, "nodejs_conf")
        f.replace("usr/lib/ssl/openssl.cnf", with: Data(("nodejs_conf = openssl_init\n" + AuditFixture.enforcingConfig).utf8))
        XCTAssertTrue(try audit(f).passed)
    }

    func testPolicyParsingIsStrict() throws {
        XCTAssertThrowsError(try AuditPolicy.parse("allow:\n  - path: x\n    finding: y\n", file: "p.yaml")) {
            XCTAssertTrue("\($0)".contains("p.yaml:2") && "\($0)".contains("reason"), "\($0)")
        }
        XCTAssertThrowsError(try AuditPolicy.parse("allow:\n  - path: x\n    finding: y\n    reason: z\n    extra: 1\n", file: "p.yaml")) {
            XCTAssertTrue("\($0)".contains("p.yaml:5") && "\($0)".contains("extra"), "\($0)")
        }
        XCTAssertThrowsError(try AuditPolicy.parse("modules: []\n", file: "p.yaml")) { XCTAssertTrue("\($0)".contains("p.yaml:1"), "\($0)") }
    }
}

/// `kiln audit` itself: exit 0 on a pass, 1 with findings, 2 when it cannot run; --json is the data.
final class AuditCommandTests: XCTestCase {
    func testExitCodesHumanAndJSONOutput() throws {
        let dir = try TestSupport.temporaryDirectory(self, prefix: "kiln-audit-cli")
        try XCTSkipUnless(FileManager.default.fileExists(atPath: AuditFixture.fipsDir + "/fips.so"), "needs out/test/fips")
        let clean = try AuditFixture.clean(dir: dir).write(dir: dir, tag: "app-fips")
        var bad = try AuditFixture.clean(dir: dir)
        bad.files.append(.init(path: "usr/bin/aes", data: try Programs.shared.staticAES(dir), mode: 0o755, owner: "app"))
        let badRef = try bad.write(dir: dir, tag: "app-bad")
        let cwd = TestSupport.packageRoot

        var r = try TestSupport.kiln(["audit", clean], cwd: cwd)
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssertTrue(r.out.contains(": PASS — OpenSSL FIPS Provider"), r.out)
        for c in ["module", "configuration", "linkage", "foreign-crypto"] { XCTAssertTrue(r.out.contains("  ok   \(c): "), r.out) }

        r = try TestSupport.kiln(["audit", clean, badRef], cwd: cwd)
        XCTAssertEqual(r.status, 1, r.out + r.err)
        XCTAssertTrue(r.out.contains("finding [aes-sbox] /usr/bin/aes (app): contains the AES S-box"), r.out)
        XCTAssertTrue(r.out.contains("evidence: offset 0x"), r.out)
        XCTAssertTrue(r.out.contains("what to do: "), r.out)
        XCTAssertTrue(r.err.contains("1 of 2 image(s) have boundary findings"), r.err)

        r = try TestSupport.kiln(["audit", badRef, "--json"], cwd: cwd)
        XCTAssertEqual(r.status, 1)
        let j = try JSON.parse(Data(r.out.utf8), source: "stdout")
        XCTAssertEqual(j["verdict"]?.string, "fail")
        let finding = j["images"]?.array?.first?["findings"]?.array?.first { $0["id"]?.string == "aes-sbox" }
        XCTAssertEqual(finding?["path"]?.string, "usr/bin/aes")
        XCTAssertNotNil(finding?["evidence"]?["offset"]?.int)

        r = try TestSupport.kiln(["audit", dir + "/no-such-layout"], cwd: cwd)
        XCTAssertEqual(r.status, 2, r.out + r.err)
        XCTAssertTrue(r.err.contains("audit could not run"), r.err)
        try "allow: 3\n".write(toFile: dir + "/p.yaml", atomically: true, encoding: .utf8)
        r = try TestSupport.kiln(["audit", clean, "--policy", dir + "/p.yaml"], cwd: cwd)
        XCTAssertEqual(r.status, 2, r.out + r.err)
        XCTAssertTrue(r.err.contains("p.yaml:1"), r.err)
    }
}

/// Hostile image contents: the audit finishes with findings, never a trap, hang or write.
final class HostileAuditTests: XCTestCase {
    func testLoopsTruncatedELFsAndCraftedBuildInfoDoNotTrap() throws {
        let dir = try TestSupport.temporaryDirectory(self, prefix: "kiln-audit-hostile")
        try XCTSkipUnless(FileManager.default.fileExists(atPath: AuditFixture.fipsDir + "/fips.so"), "needs out/test/fips")
        var f = try AuditFixture.clean(dir: dir)
        // Symlink loops, a link out of the root, configs including themselves.
        f.files.append(.init(path: "opt/loop/a", data: Data(), owner: "evil", link: "b"))
        f.files.append(.init(path: "opt/loop/b", data: Data(), owner: "evil", link: "a"))
        f.files.append(.init(path: "opt/out", data: Data(), owner: "evil", link: "../../../../etc/passwd"))
        f.files.append(.init(path: "etc/ld.so.conf", data: Data("include /etc/ld.so.conf\ninclude /etc/ld.so.conf.d/*.conf\n/opt/loop/a\n".utf8), owner: "evil"))
        f.files.append(.init(path: "etc/ld.so.conf.d/x.conf", data: Data("include /etc/ld.so.conf\n".utf8), owner: "evil"))
        f.replace("usr/lib/ssl/openssl.cnf", with: Data((AuditFixture.enforcingConfig + ".include /usr/lib/ssl/openssl.cnf\n.include /opt/loop/a\n.include=/usr/lib/ssl\n").utf8))
        // ELF headers pointing far outside the file, a dynamic segment with no string table.
        var elf = [UInt8](repeating: 0, count: 64)
        elf[0...5] = [0x7f, 0x45, 0x4c, 0x46, 2, 1]; elf[16] = 3; elf[18] = 62
        for i in 32..<40 { elf[i] = 0xff }            // e_phoff = 2^64-1
        elf[54] = 56; elf[56] = 0xff; elf[57] = 0xff   // e_phentsize, e_phnum = 65535
        for i in 40..<48 { elf[i] = 0x7f }            // e_shoff huge
        elf[58] = 64; elf[60] = 0xff; elf[61] = 0xff
        f.files.append(.init(path: "usr/lib/evil.so", data: Data(elf), owner: "evil"))
        // Go build info whose length prefix claims more bytes than the file has.
        var go: [UInt8] = [0xff] + Array(" Go buildinf:".utf8) + [8, 2] + [UInt8](repeating: 0, count: 16)
        go += [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]
        f.files.append(.init(path: "usr/bin/gotrunc", data: Data(elf + go), owner: "evil"))
        f.files.append(.init(path: "usr/lib/x86_64-linux-gnu/libssl-evil.so", data: Data(elf + Array("OpenSSL ".utf8)), owner: "evil"))
        let ref = try f.write(dir: dir)
        let r = try XCTUnwrap(try BoundaryAuditor(registry: nil).audit(reference: ref).first)
        // The configuration still resolves (the self-includes are skipped once seen).
        XCTAssertTrue(r.checks.first { $0.name == .configuration }?.passed ?? false, r.text)
        XCTAssertNotNil(r.module)
    }
}

/// `--exec`: the probes run the image's own openssl in kiln's sandbox and read what it says.
final class ExecProbeTests: XCTestCase {
    func testProbesSeeTheFIPSProviderActiveAndMD5RefusedAndCatchADefaultConfig() throws {
        let dir = try TestSupport.temporaryDirectory(self, prefix: "kiln-audit-exec")
        try XCTSkipUnless(FileManager.default.fileExists(atPath: AuditFixture.fipsDir + "/fips.so"), "needs out/test/fips")
        try XCTSkipUnless(Subprocess.which("bwrap") != nil, "needs bwrap (make deps)")
        var f = try AuditFixture.clean(dir: dir)
        f.files.append(.init(path: "usr/bin/openssl", data: try AuditFixture.read("/usr/bin/openssl"), mode: 0o755, owner: "openssl"))
        var r = try XCTUnwrap(try BoundaryAuditor(registry: nil, exec: true).audit(reference: try f.write(dir: dir)).first)
        XCTAssertTrue(r.passed, r.text)
        XCTAssertEqual(r.checks.last?.name, .exec)
        XCTAssertTrue(r.checks.last?.summary.contains("openssl: fips active, MD5 refused, SHA-256 works") ?? false, r.text)

        // default activated next to fips: MD5 works — the static check and the probe both say so.
        let cnf = AuditFixture.enforcingConfig.replacingOccurrences(of: "base = base_sect\n", with: "base = base_sect\ndefault = default_sect\n")
            .replacingOccurrences(of: "default_properties = fips=yes", with: "") + "[default_sect]\nactivate = 1\n"
        f.replace("usr/lib/ssl/openssl.cnf", with: Data(cnf.utf8))
        r = try XCTUnwrap(try BoundaryAuditor(registry: nil, exec: true).audit(reference: try f.write(dir: dir)).first)
        let ids = Set(r.findings.map(\.id))
        XCTAssertTrue(ids.isSuperset(of: ["config-default-activated", "exec-md5-allowed"]), r.text)

        // A tampered module: openssl still exits 0 listing only base; the probe reads the list.
        var so = try AuditFixture.read(AuditFixture.fipsDir + "/fips.so")
        so[so.count / 2] ^= 0x01
        var t = try AuditFixture.clean(dir: dir)
        t.files.append(.init(path: "usr/bin/openssl", data: try AuditFixture.read("/usr/bin/openssl"), mode: 0o755, owner: "openssl"))
        t.replace("usr/lib/x86_64-linux-gnu/ossl-modules/fips.so", with: so)
        r = try XCTUnwrap(try BoundaryAuditor(registry: nil, exec: true).audit(reference: try t.write(dir: dir)).first)
        XCTAssertTrue(Set(r.findings.map(\.id)).isSuperset(of: ["module-mac-mismatch", "exec-fips-not-active"]), r.text)
    }
}
