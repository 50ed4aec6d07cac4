import Foundation
import KilnAPK
import KilnArchive
import KilnCrypto
import KilnTestSupport
import XCTest

/// APKINDEX.tar.gz (apk-format.md §1.7): records, C/S fields, signature, determinism, atomicity.
final class IndexTests: XCTestCase {
    var tmp = ""
    var key: TestKey!

    override func setUpWithError() throws {
        tmp = try TestSupport.temporaryDirectory(self, prefix: "kiln-index")
        key = try TestKey.make(in: tmp)
    }

    /// Two packages in <repo>/x86_64 and an index.
    func makeRepo(_ repo: String) throws -> APKRepository.Result {
        let t1 = repo + "-t1", t2 = repo + "-t2"
        try Fixture.simpleTree(t1)
        try Fixture.write(t2 + "/usr/share/zeta/z.txt", "z\n")
        try APKWriter.write(spec: Fixture.spec(), root: t1, repository: repo, signer: key.signer)
        var s = Fixture.spec("zeta-data", version: "0.1", epoch: 0)
        s.installIf = ["hello", "zeta"]
        try APKWriter.write(spec: s, root: t2, repository: repo, signer: key.signer)
        return try APKRepository.updateIndex(directory: repo + "/x86_64", signer: key.signer, description: "kiln test repo")
    }

    func testIndexLayoutRecordsAndSignature() throws {
        let r = try makeRepo(tmp + "/repo")
        let v = try PyView.load(r.indexPath)
        // Signed index = signature member || one gzip member with DESCRIPTION, APKINDEX, EOA.
        XCTAssertEqual(v.members.count, 2)
        XCTAssertEqual(v.members[0].entries.map(\.name), [".SIGN.RSA256.kiln-test.rsa.pub"])
        XCTAssertEqual(v.members[0].zero_blocks, 0)
        XCTAssertEqual(v.members[1].entries.map(\.name), ["DESCRIPTION", "APKINDEX"])
        XCTAssertGreaterThanOrEqual(v.members[1].zero_blocks, 2)
        XCTAssertEqual(v.members[1].mtime, 0)
        for e in v.members[1].entries { XCTAssertEqual(e.mtime, 1_700_000_000); XCTAssertEqual(e.uname, "root") }
        XCTAssertEqual(v.members[1].entries[0].text, "kiln test repo")
        let text = try XCTUnwrap(v.members[1].entries[1].text)
        // Records: sorted by name, blank-line separated, letters in apk's order.
        let recs = text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        XCTAssertEqual(recs.count, 2)
        XCTAssertTrue(text.hasSuffix("\n\n"))
        let first = recs[0].split(separator: "\n").map(String.init)
        XCTAssertEqual(first.map { String($0.prefix(1)) }, ["C", "P", "V", "A", "S", "I", "T", "U", "L", "o", "m", "t", "c", "k", "D", "p"])
        XCTAssertEqual(first[1], "P:hello")
        XCTAssertEqual(first[2], "V:2.12.1-r1")
        let hello = tmp + "/repo/x86_64/hello-2.12.1-r1.apk"
        let hv = try PyView.load(hello)
        XCTAssertEqual(first[0], "C:Q1" + hv.members[1].sha1_b64, "C: is Q1 + base64(sha1(control member))")
        XCTAssertEqual(first[4], "S:\(hv.size)", "S: is the .apk file size")
        XCTAssertTrue(first.contains("t:1700000000"))
        XCTAssertTrue(first.contains("k:10"))
        XCTAssertTrue(recs[1].contains("P:zeta-data\n"))
        XCTAssertTrue(recs[1].contains("\ni:hello zeta"))
        // Only lower-case letters beyond the known upper-case ones.
        for line in text.split(separator: "\n") {
            let c = line.first!
            if c.isUppercase { XCTAssertTrue("CPVASITUL D".contains(c) || c == "D", "unexpected upper-case field \(line)") }
        }
        // openssl verifies the signature over the whole unsigned index.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: r.indexPath))
        try bytes.subdata(in: v.members[1].offset..<bytes.count).write(to: URL(fileURLWithPath: tmp + "/unsigned.tar.gz"))
        try XCTUnwrap(Data(base64Encoded: XCTUnwrap(v.members[0].entries[0].b64))).write(to: URL(fileURLWithPath: tmp + "/isig"))
        let ok = try TestSupport.run("openssl", ["dgst", "-sha256", "-verify", key.publicPath, "-signature", tmp + "/isig", tmp + "/unsigned.tar.gz"])
        XCTAssertEqual(ok.status, 0, ok.err)
        // Round trip through kiln's reader.
        let idx = try APKIndex.read(path: r.indexPath, options: APKVerifyOptions(keyring: key.keyring))
        XCTAssertEqual(idx.trustedKey, "kiln-test.rsa.pub")
        XCTAssertEqual(idx.description, "kiln test repo")
        XCTAssertEqual(idx.records.map(\.name), ["hello", "zeta-data"])
        XCTAssertEqual(idx.records, r.records)
        let h = idx.records[0]
        XCTAssertEqual(h.size, Int64(hv.size))
        XCTAssertEqual(h.depends, try APKReader.read(path: hello, options: APKVerifyOptions(keyring: key.keyring)).info.depends)
        XCTAssertEqual(h.fileName, "hello-2.12.1-r1.apk")
    }

    func testIndexIsDeterministic() throws {
        let a = try makeRepo(tmp + "/a"), b = try makeRepo(tmp + "/b")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: a.indexPath)), try Data(contentsOf: URL(fileURLWithPath: b.indexPath)))
        for f in ["hello-2.12.1-r1.apk", "zeta-data-0.1-r0.apk"] {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: tmp + "/a/x86_64/" + f)),
                           try Data(contentsOf: URL(fileURLWithPath: tmp + "/b/x86_64/" + f)), f)
        }
        // Re-indexing the same directory gives the same bytes.
        let again = try APKRepository.updateIndex(directory: tmp + "/a/x86_64", signer: key.signer, description: "kiln test repo")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: again.indexPath)), try Data(contentsOf: URL(fileURLWithPath: a.indexPath)))
    }

    func testIndexTamperingAndKeys() throws {
        let r = try makeRepo(tmp + "/repo")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: r.indexPath))
        let ranges = try Gzip.memberRanges(bytes)
        let opts = APKVerifyOptions(keyring: key.keyring)
        XCTAssertNoThrow(try APKIndex.read(data: bytes, file: "i", options: opts))
        let other = try TestKey.make(in: tmp, name: "other.rsa")
        XCTAssertThrowsError(try APKIndex.read(data: bytes, file: "i", options: APKVerifyOptions(keyring: other.keyring)))
        bytes[ranges[1].lowerBound + ranges[1].count / 2] ^= 0x20
        XCTAssertThrowsError(try APKIndex.read(data: bytes, file: "i", options: opts))
    }

    func testIndexTextParsing() throws {
        var rec = APKIndexRecord()
        rec.checksum = "Q19UI7UxyiUywG6aew9c3lCBPshsE="; rec.name = "a"; rec.version = "1-r0"; rec.arch = "noarch"; rec.size = 5; rec.installedSize = 1
        rec.depends = ["b", "so:libc.so.6"]; rec.provides = ["cmd:a=1-r0"]; rec.buildTime = 3; rec.origin = "a"
        let text = APKIndex.renderText([rec, rec])
        XCTAssertEqual(try APKIndex.parseText(text, file: "t"), [rec, rec])
        // Real Alpine 3.16 record from apk-format.md.
        let alpine = "C:Q19UI7UxyiUywG6aew9c3lCBPshsE=\nP:alpine-baselayout\nV:3.2.0-r23\nA:x86_64\nS:11136\nI:348160\nT:Alpine base dir structure and init scripts\nU:https://git.alpinelinux.org/cgit/aports/tree/main/alpine-baselayout\nL:GPL-2.0-only\no:alpine-baselayout\nm:Natanael Copa <ncopa@alpinelinux.org>\nt:1662926906\nc:348653a9ba0701e8e968b3344e72313a9ef334e4\nD:alpine-baselayout-data=3.2.0-r23 /bin/sh so:libc.musl-x86_64.so.1\np:cmd:mkmntdirs=3.2.0-r23\n\n"
        let recs = try APKIndex.parseText(alpine, file: "t")
        XCTAssertEqual(recs.count, 1)
        XCTAssertEqual(recs[0].depends, ["alpine-baselayout-data=3.2.0-r23", "/bin/sh", "so:libc.musl-x86_64.so.1"])
        XCTAssertEqual(recs[0].installedSize, 348160)
        XCTAssertEqual(APKIndex.renderText(recs), alpine, "renders byte-identical to apk's own output")
        XCTAssertThrowsError(try APKIndex.parseText("C:Q19UI7UxyiUywG6aew9c3lCBPshsE=\nP:a\nV:1\nZ:what\n\n", file: "t"), "unknown upper-case letter")
        XCTAssertEqual(try APKIndex.parseText("C:Q19UI7UxyiUywG6aew9c3lCBPshsE=\nP:a\nV:1\nz:what\n\n", file: "t")[0].other, [["z", "what"]])
    }

    func testIndexTextIsSplitByBytes() throws {
        // An installed database written with CRLF line ends: each line still ends at its "\n" (a String
        // split would see "\r\n" as one character and find a single line).
        let db = try APKIndex.parseInstalledDatabase("P:a\r\nV:1-r0\r\nF:usr/bin\r\nR:a\r\n\r\nP:b\r\nV:2-r0\r\n\r\n", file: "installed")
        XCTAssertEqual(db.map(\.name), ["a", "b"])
        XCTAssertEqual(db.map(\.version), ["1-r0", "2-r0"])
        // A field letter must be one ASCII byte; a value may hold any UTF-8.
        XCTAssertThrowsError(try APKIndex.parseText("C:Q19UI7UxyiUywG6aew9c3lCBPshsE=\nP:a\nV:1\n\u{c9}:x\n\n", file: "t")) { e in
            XCTAssertTrue("\(e)".contains("line 4: expected `X:value`"), "\(e)")
        }
        XCTAssertEqual(try APKIndex.parseText("C:Q19UI7UxyiUywG6aew9c3lCBPshsE=\nP:a\nV:1\nT:caf\u{e9} \u{1F600}\n\n", file: "t")[0].description, "caf\u{e9} \u{1F600}")
    }

    func testIndexSkipsIncompleteFilesAndChecksNames() throws {
        let r = try makeRepo(tmp + "/repo")
        // A package being written (temporary name) is not indexed.
        try Data("partial".utf8).write(to: URL(fileURLWithPath: tmp + "/repo/x86_64/.x-1-r0.apk.tmp-1-2"))
        XCTAssertEqual(try APKRepository.updateIndex(directory: tmp + "/repo/x86_64", signer: key.signer).records.count, r.records.count)
        // A renamed package is refused (apk fetches <P>-<V>.apk).
        try FileManager.default.moveItem(atPath: tmp + "/repo/x86_64/hello-2.12.1-r1.apk", toPath: tmp + "/repo/x86_64/renamed.apk")
        XCTAssertThrowsError(try APKRepository.updateIndex(directory: tmp + "/repo/x86_64", signer: key.signer))
    }
}
