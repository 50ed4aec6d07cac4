import Foundation
import KilnAPK
import KilnArchive
import KilnCrypto
import KilnTestSupport
import XCTest

/// Tampering is caught: a changed byte in any member, a swapped data member, an edited .PKGINFO,
/// a wrong per-file checksum, an unknown key, end-of-archive blocks where apk stops reading.
final class TamperTests: XCTestCase {
    var tmp = ""
    var key: TestKey!
    var pkg = Data()
    var ranges: [Range<Int>] = []

    override func setUpWithError() throws {
        tmp = try TestSupport.temporaryDirectory(self, prefix: "kiln-tamper")
        key = try TestKey.make(in: tmp)
        try Fixture.simpleTree(tmp + "/tree")
        pkg = try APKWriter.build(spec: Fixture.spec(), root: tmp + "/tree", signer: key.signer).data
        ranges = try Gzip.memberRanges(pkg)
        XCTAssertEqual(ranges.count, 3)
    }

    var opts: APKVerifyOptions { APKVerifyOptions(keyring: key.keyring) }

    func read(_ d: Data) throws -> APKPackage { try APKReader.read(data: d, file: "t.apk", options: opts) }

    func testIntactPackageVerifies() throws {
        XCTAssertEqual(try read(pkg).trustedKey, "kiln-test.rsa.pub")
    }

    func testChangedByteInEveryMemberIsCaught() throws {
        for (i, r) in ranges.enumerated() {
            // A byte in the middle of the deflate stream, and the last byte of the member (gzip ISIZE).
            for off in [r.lowerBound + r.count / 2, r.upperBound - 1] {
                var d = pkg
                d[off] ^= 0x01
                XCTAssertThrowsError(try read(d), "member \(i) offset \(off) changed but the package verified")
            }
        }
    }

    func testSwappedDataMemberIsCaught() throws {
        var s2 = Fixture.spec(); s2.version = "2.12.2"
        try Fixture.write(tmp + "/tree/etc/hello.conf", "other\n")
        let other = try APKWriter.build(spec: s2, root: tmp + "/tree", signer: key.signer).data
        let oRanges = try Gzip.memberRanges(other)
        let swapped = pkg.subdata(in: 0..<ranges[2].lowerBound) + other.subdata(in: oRanges[2])
        XCTAssertThrowsError(try read(swapped)) { e in
            guard case APKError.dataHashMismatch = e else { return XCTFail("\(e)") }
        }
    }

    /// Rebuilds the control member from an edited .PKGINFO, keeping the original signature.
    func testEditedPkgInfoIsCaught() throws {
        let ctl = try Gzip.decompress(pkg.subdata(in: ranges[1]))
        let text = String(decoding: ctl, as: UTF8.self)
        XCTAssertTrue(text.contains("license = GPL-3.0-or-later"))
        // Same length edit so the tar stays well-formed.
        let edited = Data(text.replacingOccurrences(of: "license = GPL-3.0-or-later", with: "license = MIT-0-or-laterXX").utf8)
        XCTAssertEqual(edited.count, ctl.count)
        let newCtl = try Gzip.compress(edited, level: 9)
        let tampered = pkg.subdata(in: ranges[0]) + newCtl + pkg.subdata(in: ranges[2])
        XCTAssertThrowsError(try read(tampered)) { e in
            guard case APKError.badSignature = e else { return XCTFail("\(e)") }
        }
        // Even with --allow-untrusted a bad signature by a known key is an error.
        XCTAssertThrowsError(try APKReader.read(data: tampered, file: "t", options: APKVerifyOptions(keyring: key.keyring, allowUntrusted: true)))
    }

    /// A correctly signed package (fresh datahash, fresh signature) whose file checksum is wrong.
    func testWrongPerFileChecksumIsCaught() throws {
        var entries = try ArchiveReader.entries(data: Gzip.decompress(pkg.subdata(in: ranges[2]))).map(\.entry)
        let i = try XCTUnwrap(entries.firstIndex { $0.path == "etc/hello.conf" })
        let content = Data("greeting=hi\n".utf8)
        entries[i].content = .data(content)
        entries[i].pax["APK-TOOLS.checksum.SHA1"] = String(repeating: "0", count: 40)
        for j in entries.indices {
            if case .file = entries[j].kind, entries[j].pax["APK-TOOLS.checksum.SHA1"] == nil { XCTFail("reader lost the PAX checksum of \(entries[j].path)") }
        }
        // Fill contents back (ArchiveReader gives .data already; keep them).
        let dataMember = try Gzip.compress(TarWriter.archive(entries, options: TarWriterOptions(epoch: 1_700_000_000)), level: 9)
        let ctlText = String(decoding: try Gzip.decompress(pkg.subdata(in: ranges[1])), as: UTF8.self)
        let oldHash = try XCTUnwrap(ctlText.range(of: "datahash = ").map { String(ctlText[$0.upperBound...].prefix(64)) })
        let newHash = try Digest.hash(.sha256, dataMember).hexString
        let newCtl = try Gzip.compress(Data(ctlText.replacingOccurrences(of: oldHash, with: newHash).utf8), level: 9)
        let sig = try APKWriter.signatureMember(signing: newCtl, signer: key.signer, epoch: 1_700_000_000)
        let tampered = sig + newCtl + dataMember
        XCTAssertThrowsError(try read(tampered)) { e in
            guard case APKError.checksumMismatch(_, let entry, _, _) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(entry, "etc/hello.conf")
        }
        // The same package without the check (what apk does at install time) reads fine.
        XCTAssertNoThrow(try APKReader.read(data: tampered, file: "t", options: APKVerifyOptions(keyring: key.keyring, checkFileChecksums: false)))
    }

    func testUnknownKeyIsCaught() throws {
        let other = try TestKey.make(in: tmp, name: "other.rsa")
        XCTAssertThrowsError(try APKReader.read(data: pkg, file: "t", options: APKVerifyOptions(keyring: other.keyring))) { e in
            guard case APKError.untrusted = e else { return XCTFail("\(e)") }
        }
        // A different key saved under the signing key's name: BAD signature.
        let impostorDir = tmp + "/impostor"
        try FileManager.default.createDirectory(atPath: impostorDir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: other.publicPath, toPath: impostorDir + "/kiln-test.rsa.pub")
        XCTAssertThrowsError(try APKReader.read(data: pkg, file: "t", options: APKVerifyOptions(keyring: APKKeyring(directory: impostorDir)))) { e in
            guard case APKError.badSignature = e else { return XCTFail("\(e)") }
        }
        // No key at all.
        XCTAssertThrowsError(try APKReader.read(data: pkg, file: "t", options: APKVerifyOptions()))
    }

    /// apk stops at the second zero block: end-of-archive blocks in the signature or control
    /// member make a package apk rejects, so the reader rejects it too.
    func testEndOfArchiveBlocksInEarlyMembersAreRejected() throws {
        let ctlTar = try Gzip.decompress(pkg.subdata(in: ranges[1]))
        let ctlWithEOA = try Gzip.compress(ctlTar + Data(count: 1024), level: 9)
        let sig = try APKWriter.signatureMember(signing: ctlWithEOA, signer: key.signer, epoch: 0)
        XCTAssertThrowsError(try read(sig + ctlWithEOA + pkg.subdata(in: ranges[2]))) { e in
            XCTAssertTrue("\(e)".contains("control member contains an all-zero 512-byte block"), "\(e)")
        }
        let sigTar = try Gzip.decompress(pkg.subdata(in: ranges[0]))
        let sigWithEOA = try Gzip.compress(sigTar + Data(count: 1024), level: 9)
        XCTAssertThrowsError(try read(sigWithEOA + pkg.subdata(in: ranges[1]) + pkg.subdata(in: ranges[2]))) { e in
            XCTAssertTrue("\(e)".contains("signature member contains an all-zero"), "\(e)")
        }
    }

    func testDataInTwoGzipMembersIsRejected() throws {
        let dataTar = try Gzip.decompress(pkg.subdata(in: ranges[2]))
        let half = dataTar.count / 1024 * 512
        let split = try Gzip.compress(dataTar.prefix(half), level: 9) + Gzip.compress(dataTar.suffix(from: half), level: 9)
        XCTAssertThrowsError(try read(pkg.subdata(in: 0..<ranges[2].lowerBound) + split)) { e in
            XCTAssertTrue("\(e)".contains("exactly one gzip member"), "\(e)")
        }
    }

    func testTruncatedAndGarbageInputsFailCleanly() throws {
        for n in [0, 10, ranges[1].lowerBound, ranges[2].lowerBound + 20, pkg.count - 1] {
            XCTAssertThrowsError(try read(pkg.prefix(n)), "truncated to \(n)")
        }
        XCTAssertThrowsError(try read(Data("not a package".utf8)))
    }

    /// Extraction never writes through a symlink planted by the package itself.
    func testExtractRefusesWritingThroughSymlinks() throws {
        var link = TarEntry(path: "a", kind: .symlink(target: tmp + "/outside"), mode: 0o777)
        link.pax["APK-TOOLS.checksum.SHA1"] = try Digest.hash(.sha1, Data((tmp + "/outside").utf8)).hexString
        var file = TarEntry.file("a/x", Data("x".utf8))
        file.pax["APK-TOOLS.checksum.SHA1"] = try Digest.hash(.sha1, Data("x".utf8)).hexString
        let sink = DataSink()
        let w = try TarWriter(sink: sink, options: TarWriterOptions(epoch: 0, endOfArchive: true, sortEntries: false))
        try w.write(link); try w.write(file); try w.finish()
        let dataMember = try Gzip.compress(sink.data, level: 9)
        var info = PkgInfo(); info.pkgname = "evil"; info.pkgver = "1-r0"; info.arch = "x86_64"; info.size = 1
        info.datahash = try Digest.hash(.sha256, dataMember).hexString
        let ctl = DataSink()
        let cw = try TarWriter(sink: ctl, options: TarWriterOptions(epoch: 0, endOfArchive: false, sortEntries: false))
        try cw.write(TarEntry.file(".PKGINFO", Data(info.render().utf8))); try cw.finish()
        let pkgData = try Gzip.compress(ctl.data, level: 9) + dataMember
        // The reader refuses the package before anything is extracted (APKInstall.extract's own
        // check stays as a second line).
        XCTAssertThrowsError(try APKReader.read(data: pkgData, file: "evil.apk", options: APKVerifyOptions(allowUntrusted: true))) { e in
            XCTAssertTrue("\(e)".contains("'a/x'") && "\(e)".contains("written through the symlink a"), "\(e)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp + "/outside/x"))
    }
}
