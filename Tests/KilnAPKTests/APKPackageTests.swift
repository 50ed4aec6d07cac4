import Foundation
import KilnAPK
import KilnArchive
import KilnCrypto
import KilnTestSupport
import XCTest

/// Packages: layout rules of apk-format.md §1.1-1.6, checked with kiln's reader AND independently
/// (Python zlib/tarfile, `openssl dgst`).
final class APKPackageTests: XCTestCase {
    var tmp = ""
    var key: TestKey!

    override func setUpWithError() throws {
        tmp = try TestSupport.temporaryDirectory(self, prefix: "kiln-apk")
        key = try TestKey.make(in: tmp)
    }

    func buildSimple(_ spec: PackageSpec = Fixture.spec(), sub: String = "repo") throws -> (APKWriter.Output, String) {
        let root = tmp + "/tree-" + sub
        if !FileManager.default.fileExists(atPath: root) { try Fixture.simpleTree(root) }
        let out = try APKWriter.write(spec: spec, root: root, repository: tmp + "/" + sub, signer: key.signer)
        return (out, root)
    }

    func testLayoutFollowsTheSpec() throws {
        let (out, _) = try buildSimple()
        XCTAssertEqual(out.path, tmp + "/repo/x86_64/hello-2.12.1-r1.apk")
        let v = try PyView.load(out.path)
        // §1.1: three gzip members; sig and control without any all-zero block; data complete.
        XCTAssertEqual(v.members.count, 3)
        XCTAssertEqual(v.members[0].zero_blocks, 0, "signature member must not contain an all-zero block")
        XCTAssertEqual(v.members[1].zero_blocks, 0, "control member must not contain an all-zero block")
        XCTAssertGreaterThanOrEqual(v.members[2].zero_blocks, 2, "data member ends with end-of-archive blocks")
        for m in v.members {
            XCTAssertEqual(m.tar_len % 512, 0)
            XCTAssertEqual(m.mtime, 0, "gzip MTIME must be 0")
            XCTAssertEqual(m.flags & 0x08, 0, "gzip FNAME must not be set")
            XCTAssertTrue(m.magic.hasPrefix("7573746172"), "tar magic starts with ustar")
        }
        // §1.3: signature entry.
        XCTAssertEqual(v.members[0].entries.map(\.name), [".SIGN.RSA256.kiln-test.rsa.pub"])
        let sig = v.members[0].entries[0]
        XCTAssertEqual(sig.mode, 0o644); XCTAssertEqual(sig.uname, "root"); XCTAssertEqual(sig.uid, 0)
        // §1.4: control: .PKGINFO first, scripts 0755, all top-level dotfiles.
        let ctl = v.members[1].entries
        XCTAssertEqual(ctl.map(\.name), [".PKGINFO", ".post-install"])
        XCTAssertEqual(ctl[1].mode, 0o755)
        XCTAssertEqual(ctl[0].mode, 0o644)
        for e in ctl { XCTAssertEqual(e.uname, "root"); XCTAssertEqual(e.gname, "root"); XCTAssertEqual(e.mtime, 1_700_000_000) }
        let pkginfo = try XCTUnwrap(ctl[0].text)
        let lines = pkginfo.split(separator: "\n").filter { !$0.hasPrefix("#") }
        XCTAssertTrue(lines.allSatisfy { $0.contains(" = ") })
        let keys = lines.map { String($0.split(separator: " ")[0]) }
        XCTAssertEqual(keys.first, "pkgname")
        XCTAssertEqual(keys.last, "datahash", "datahash is written last")
        XCTAssertEqual(Array(keys.prefix(5)), ["pkgname", "pkgver", "pkgdesc", "url", "builddate"])
        XCTAssertTrue(lines.contains("pkgver = 2.12.1-r1"))
        XCTAssertTrue(lines.contains("builddate = 1700000000"))
        XCTAssertTrue(lines.contains("arch = x86_64"))
        XCTAssertTrue(lines.contains("origin = hello"))
        XCTAssertTrue(lines.contains("license = GPL-3.0-or-later"))
        XCTAssertTrue(lines.contains("depend = ca-certificates"))
        XCTAssertTrue(lines.contains("replaces = hello-old"))
        XCTAssertTrue(lines.contains("provider_priority = 10"))
        XCTAssertTrue(lines.contains("provides = cmd:hello=2.12.1-r1"), pkginfo)
        XCTAssertTrue(lines.contains("depend = cmd:bash"), "interpreter dependency of the #! script: \(pkginfo)")
        // datahash = lowercase hex sha256 of the compressed data member.
        XCTAssertTrue(lines.contains(Substring("datahash = " + v.members[2].sha256)))
        // §1.5: data member paths sorted, relative, owner root, mtime epoch, checksums.
        let data = v.members[2].entries
        let names = data.map(\.name)
        XCTAssertEqual(names, names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        XCTAssertTrue(names.allSatisfy { !$0.hasPrefix("/") && !$0.hasPrefix("./") })
        XCTAssertTrue(names.contains("var/lib/db/sbom/hello-2.12.1-r1.spdx.json"))
        var fileSizes = 0
        for e in data {
            XCTAssertEqual(e.uname, "root", e.name); XCTAssertEqual(e.gname, "root", e.name)
            XCTAssertEqual(e.uid, 0); XCTAssertEqual(e.gid, 0)
            XCTAssertEqual(e.mtime, 1_700_000_000, e.name)
            switch e.type {
            case "0":
                XCTAssertEqual(e.pax["APK-TOOLS.checksum.SHA1"], e.sha1, "file checksum of \(e.name)")
                fileSizes += e.size
            case "2":
                let want = try Digest.hash(.sha1, Data(e.linkname.utf8)).hexString
                XCTAssertEqual(e.pax["APK-TOOLS.checksum.SHA1"], want, "symlink checksum = sha1(target) for \(e.name)")
            case "5": XCTAssertNil(e.pax["APK-TOOLS.checksum.SHA1"], "directories carry no checksum")
            case "1": XCTAssertEqual(e.linkname, "usr/share/hello/greeting.txt"); XCTAssertNil(e.pax["APK-TOOLS.checksum.SHA1"])
            default: XCTFail("unexpected type \(e.type) for \(e.name)")
            }
            XCTAssertNil(e.pax["atime"]); XCTAssertNil(e.pax["ctime"])
        }
        XCTAssertEqual(data.first(where: { $0.name == "usr/bin/hi" })?.type, "2")
        XCTAssertEqual(data.first(where: { $0.name == "usr/share/hello/greeting2.txt" })?.type, "1")
        // size = sum of regular-file sizes, one per inode.
        XCTAssertTrue(lines.contains(Substring("size = \(fileSizes)")), "size: \(pkginfo)")
        XCTAssertEqual(out.info.size, Int64(fileSizes))
        // §1.6: Q1 = base64(sha1(control member)).
        XCTAssertEqual(out.checksum, "Q1" + v.members[1].sha1_b64)
        XCTAssertEqual(out.fileSize, v.size)
    }

    func testSignatureVerifiesWithOpenSSL() throws {
        let (out, _) = try buildSimple()
        let v = try PyView.load(out.path)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: out.path))
        let control = bytes.subdata(in: v.members[1].offset..<(v.members[1].offset + v.members[1].length))
        try control.write(to: URL(fileURLWithPath: tmp + "/control.tar.gz"))
        try XCTUnwrap(Data(base64Encoded: XCTUnwrap(v.members[0].entries[0].b64))).write(to: URL(fileURLWithPath: tmp + "/sig"))
        let ok = try TestSupport.run("openssl", ["dgst", "-sha256", "-verify", key.publicPath, "-signature", tmp + "/sig", tmp + "/control.tar.gz"])
        XCTAssertEqual(ok.status, 0, ok.err)
        XCTAssertTrue(ok.out.contains("Verified OK"))
        // And openssl refuses it over other bytes (the data member).
        let dataMember = bytes.subdata(in: v.members[2].offset..<bytes.count)
        try dataMember.write(to: URL(fileURLWithPath: tmp + "/data.tar.gz"))
        let bad = try TestSupport.run("openssl", ["dgst", "-sha256", "-verify", key.publicPath, "-signature", tmp + "/sig", tmp + "/data.tar.gz"])
        XCTAssertNotEqual(bad.status, 0)
    }

    func testRoundTripThroughReader() throws {
        let (out, _) = try buildSimple()
        let p = try APKReader.read(path: out.path, options: APKVerifyOptions(keyring: key.keyring))
        XCTAssertEqual(p.trustedKey, "kiln-test.rsa.pub")
        XCTAssertEqual(p.signatures.map(\.type), ["RSA256"])
        XCTAssertEqual(p.info.pkgname, "hello")
        XCTAssertEqual(p.info.pkgver, "2.12.1-r1")
        XCTAssertEqual(p.info, out.info)
        XCTAssertEqual(p.checksum, out.checksum)
        XCTAssertEqual(p.scripts[".post-install"], Data("#!/bin/sh\necho installed\n".utf8))
        let hello = try XCTUnwrap(p.entries.first { $0.path == "usr/bin/hello" })
        XCTAssertEqual(hello.data, Data("#!/bin/bash\necho hello\n".utf8))
        XCTAssertEqual(hello.mode, 0o755)
        XCTAssertEqual(p.checksumSHA1(of: hello), try Digest.hash(.sha1, hello.data).hexString)
        let copy = try XCTUnwrap(p.entries.first { $0.path == "usr/share/hello/greeting2.txt" })
        XCTAssertEqual(copy.kind, .hardlink)
        XCTAssertEqual(p.checksumSHA1(of: copy), try Digest.hash(.sha1, Data("hello, world\n".utf8)).hexString, "hardlinks inherit the target's checksum")
        XCTAssertEqual(p.memberRanges.count, 3)
    }

    func testSameInputsGiveIdenticalBytes() throws {
        let (a, _) = try buildSimple(sub: "a")
        let (b, _) = try buildSimple(sub: "b")   // another tree with the same contents, other path
        // A second signer instance with the same key: RSA PKCS#1 v1.5 is deterministic.
        let da = try Data(contentsOf: URL(fileURLWithPath: a.path)), db = try Data(contentsOf: URL(fileURLWithPath: b.path))
        XCTAssertEqual(da, db)
        XCTAssertEqual(a.checksum, b.checksum)
        // The streaming file writer and the in-memory builder agree byte for byte.
        XCTAssertEqual(try APKWriter.build(spec: Fixture.spec(), root: tmp + "/tree-a", signer: key.signer).data, da)
        // The SBOM and everything else change when the contents change.
        try Fixture.write(tmp + "/tree-b/etc/hello.conf", "greeting=bye\n")
        let c = try APKWriter.write(spec: Fixture.spec(), root: tmp + "/tree-b", repository: tmp + "/c", signer: key.signer)
        XCTAssertNotEqual(try Data(contentsOf: URL(fileURLWithPath: c.path)), da)
        XCTAssertNotEqual(c.sbom, a.sbom)
    }

    func testUnsignedPackageNeedsAllowUntrusted() throws {
        let root = tmp + "/t"; try Fixture.simpleTree(root)
        let out = try APKWriter.write(spec: Fixture.spec(), root: root, to: tmp + "/u.apk", signer: nil)
        XCTAssertEqual(try PyView.load(out.path).members.count, 2)
        XCTAssertThrowsError(try APKReader.read(path: out.path, options: APKVerifyOptions(keyring: key.keyring))) { e in
            XCTAssertTrue("\(e)".contains("UNTRUSTED"), "\(e)")
        }
        XCTAssertNoThrow(try APKReader.read(path: out.path, options: APKVerifyOptions(allowUntrusted: true)))
    }

    func testInvalidSpecsAreRejected() throws {
        let root = tmp + "/t"; try Fixture.simpleTree(root)
        var s = Fixture.spec(); s.version = "1.0-beta"
        XCTAssertThrowsError(try APKWriter.build(spec: s, root: root, signer: nil))
        s = Fixture.spec(); s.name = "bad name"
        XCTAssertThrowsError(try APKWriter.build(spec: s, root: root, signer: nil))
        s = Fixture.spec(); s.dependencies.runtime = ["a b"]
        XCTAssertThrowsError(try APKWriter.build(spec: s, root: root, signer: nil))
        // A top-level dotfile in the tree would be read by apk as control data.
        try Fixture.write(root + "/.hidden", "x")
        XCTAssertThrowsError(try APKWriter.build(spec: Fixture.spec(), root: root, signer: nil)) { e in
            XCTAssertTrue("\(e)".contains(".hidden"), "\(e)")
        }
    }

    func testEmptyPackageHasSizeOne() throws {
        // Only the SBOM is a file; still never 0 (apk 2.x treats size 0 as virtual). Check with an empty tree.
        let root = tmp + "/empty"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let out = try APKWriter.write(spec: Fixture.spec("empty"), root: root, to: tmp + "/e.apk", signer: key.signer)
        XCTAssertGreaterThan(out.info.size, 0)
        XCTAssertEqual(out.info.size, Int64(out.sbom.count))
    }

    func testVersionValidation() {
        for ok in ["1", "1.2.3", "1.2.3a", "1.2_rc1", "1.2_p2", "2.12.1-r1", "1.0_alpha_pre2", "1.0~abc123", "20240101"] {
            XCTAssertTrue(APKVersion.isValid(ok), ok)
        }
        for bad in ["", "a1", "1..2", "1.2-beta", "1.2_foo", "1.2-r", "1.2ab", "1.2~", "v1.0"] {
            XCTAssertFalse(APKVersion.isValid(bad), bad)
        }
    }

    func testPkgInfoParseRender() throws {
        var i = PkgInfo()
        i.pkgname = "x"; i.pkgver = "1-r0"; i.depends = ["a", "so:libc.so.6"]; i.provides = ["cmd:x=1-r0"]
        i.installIf = ["a", "b"]; i.datahash = "00"; i.builddate = 5; i.size = 7; i.arch = "noarch"
        let back = try PkgInfo.parse(i.render(), file: "t")
        XCTAssertEqual(back, i)
        XCTAssertThrowsError(try PkgInfo.parse("pkgname=x\n", file: "t"))
        XCTAssertThrowsError(try PkgInfo.parse("pkgname = x\n", file: "t"), "pkgver is required")
    }

    func testOwnersTriggersAndScriptOrder() throws {
        let root = tmp + "/t"; try Fixture.simpleTree(root)
        var s = Fixture.spec()
        s.owners["etc/hello.conf"] = .init(uid: 100, gid: 101, uname: "hello", gname: "hellogrp")
        s.scriptlets.trigger = "#!/bin/sh\necho trigger\n"
        s.scriptlets.triggerPaths = ["/usr/share/hello/*", "/etc"]
        s.scriptlets.preInstall = "#!/bin/sh\necho pre\n"
        let out = try APKWriter.write(spec: s, root: root, to: tmp + "/o.apk", signer: key.signer)
        let v = try PyView.load(out.path)
        XCTAssertEqual(v.members[1].entries.map(\.name), [".PKGINFO", ".post-install", ".pre-install", ".trigger"])
        XCTAssertTrue(v.members[1].entries.dropFirst().allSatisfy { $0.mode == 0o755 })
        XCTAssertTrue(try XCTUnwrap(v.members[1].entries[0].text).contains("\ntriggers = /usr/share/hello/* /etc\n"))
        let conf = try XCTUnwrap(v.members[2].entries.first { $0.name == "etc/hello.conf" })
        XCTAssertEqual([conf.uid, conf.gid], [100, 101]); XCTAssertEqual(conf.uname, "hello"); XCTAssertEqual(conf.gname, "hellogrp")
        let p = try APKReader.read(path: out.path, options: APKVerifyOptions(keyring: key.keyring))
        XCTAssertEqual(p.info.triggers, ["/usr/share/hello/*", "/etc"])
        XCTAssertEqual(Set(p.scripts.keys), [".post-install", ".pre-install", ".trigger"])
        // Trigger paths without a trigger script are refused.
        s.scriptlets.trigger = nil
        XCTAssertThrowsError(try APKWriter.build(spec: s, root: root, signer: nil))
    }

    /// Alpine's own packages are signed `.SIGN.RSA.` (SHA-1); the reader accepts them, and with
    /// several signatures apk uses the first whose key it has.
    func testLegacySHA1AndMultipleSignatures() throws {
        let root = tmp + "/t"; try Fixture.simpleTree(root)
        let unsigned = try APKWriter.build(spec: Fixture.spec(), root: root, signer: nil).data
        let r = try Gzip.memberRanges(unsigned)
        let control = unsigned.subdata(in: r[0])
        let other = try TestKey.make(in: tmp, name: "other.rsa")
        func sigEntry(_ name: String, _ sig: [UInt8]) -> TarEntry {
            var e = TarEntry(path: name, kind: .file, mode: 0o644, content: .data(Data(sig)), size: Int64(sig.count))
            e.mtime = 0
            return e
        }
        // kiln never signs with SHA-1 (FIPS); make the legacy signature with openssl.
        try control.write(to: URL(fileURLWithPath: tmp + "/c.gz"))
        _ = try Fixture.sh(["openssl", "dgst", "-sha1", "-sign", key.privatePath, "-out", tmp + "/s1", tmp + "/c.gz"])
        let sha1Sig = [UInt8](try Data(contentsOf: URL(fileURLWithPath: tmp + "/s1")))
        let otherSig = try other.signer.key.sign(control, digest: .sha256)
        let sink = DataSink()
        let w = try TarWriter(sink: sink, options: TarWriterOptions(epoch: 0, endOfArchive: false, sortEntries: false))
        try w.write(sigEntry(".SIGN.RSA256.other.rsa.pub", otherSig))
        try w.write(sigEntry(".SIGN.RSA.kiln-test.rsa.pub", sha1Sig))
        try w.finish()
        let pkg = try Gzip.compress(sink.data, level: 9) + unsigned
        let p = try APKReader.read(data: pkg, file: "legacy.apk", options: APKVerifyOptions(keyring: key.keyring))
        XCTAssertEqual(p.trustedKey, "kiln-test.rsa.pub")
        XCTAssertEqual(p.signatures.map(\.type), ["RSA256", "RSA"])
        XCTAssertEqual(try APKReader.read(data: pkg, file: "l", options: APKVerifyOptions(keyring: other.keyring)).trustedKey, "other.rsa.pub")
        // A wrong SHA-1 signature by the trusted key is BAD.
        var bad = sha1Sig; bad[10] ^= 1
        let sink2 = DataSink()
        let w2 = try TarWriter(sink: sink2, options: TarWriterOptions(epoch: 0, endOfArchive: false, sortEntries: false))
        try w2.write(sigEntry(".SIGN.RSA.kiln-test.rsa.pub", bad))
        try w2.finish()
        XCTAssertThrowsError(try APKReader.read(data: try Gzip.compress(sink2.data, level: 9) + unsigned, file: "b", options: APKVerifyOptions(keyring: key.keyring)))
    }
}
