import Foundation
import KilnAPK
import KilnArchive
import KilnCrypto
import KilnTestSupport
import XCTest

/// Issue 15 item 5: packages and index records no installer should accept. `kiln apk verify`
/// (APKReader's defaults) must refuse each naming the entry and the reason, and `kiln index`
/// (APKRepository.updateIndex) must not sign them. Absolute symlink targets are refused only with
/// `allowAbsoluteSymlinks: false` (they resolve inside the root; Debian's libc6 needs them). The data members are
/// crafted byte by byte (CraftedTar), so PAX `path` and GNU long names can hide the path.
final class HostilePackageTests: XCTestCase {
    let strict = APKVerifyOptions(allowUntrusted: true)

    func package(_ data: [UInt8], name: String = "evil", version: String = "1-r0") throws -> Data {
        let dataMember = try Gzip.compress(Data(data + CraftedTar.endOfArchive))
        var info = PkgInfo(); info.pkgname = name; info.pkgver = version; info.arch = "x86_64"; info.size = 1
        info.datahash = try Digest.hash(.sha256, dataMember).hexString
        return try Gzip.compress(Data(CraftedTar.file(".PKGINFO", Array(info.render().utf8)))) + dataMember
    }

    func assertRefused(_ data: [UInt8], entry: String, _ reason: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let pkg = try package(data)
        XCTAssertThrowsError(try APKReader.read(data: pkg, file: "evil.apk", options: strict), file: file, line: line) { e in
            let m = "\(e)"
            XCTAssertTrue(m.contains("evil.apk") && m.contains("'\(entry)'") && m.contains(reason), m, file: file, line: line)
        }
    }

    static let sym = UInt8(ascii: "2"), hard = UInt8(ascii: "1")
    func link(_ name: String, _ target: String, _ type: UInt8) -> [UInt8] {
        CraftedTar.header(name: name, type: type, sizeField: CraftedTar.octal(0), link: target)
    }

    func testTraversalAndAbsolutePathsAreRefused() throws {
        try assertRefused(CraftedTar.file("../evil", []), entry: "../evil", "`..`")
        try assertRefused(CraftedTar.file("usr/../../evil", []), entry: "usr/../../evil", "`..`")
        try assertRefused(CraftedTar.file("/etc/evil", []), entry: "/etc/evil", "absolute path")
    }

    func testPathsHiddenInPaxAndGNULongNamesAreRefused() throws {
        try assertRefused(CraftedTar.pax(CraftedTar.record("path", "../../etc/cron.d/x")) + CraftedTar.file("harmless", []),
                          entry: "../../etc/cron.d/x", "`..`")
        let long = Array("usr/../../../root/.ssh/authorized_keys".utf8)
        let gnu = CraftedTar.header(name: "././@LongLink", type: UInt8(ascii: "L"), sizeField: CraftedTar.octal(long.count)) + CraftedTar.padded(long)
        try assertRefused(gnu + CraftedTar.file("harmless", []), entry: "usr/../../../root/.ssh/authorized_keys", "`..`")
        try assertRefused(CraftedTar.pax(CraftedTar.record("path", "/etc/passwd")) + CraftedTar.file("harmless", []),
                          entry: "/etc/passwd", "absolute path")
    }

    func testLinksThatLeaveTheRootAreRefused() throws {
        try assertRefused(link("lnk", ".", Self.sym) + CraftedTar.file("lnk/x", []), entry: "lnk/x", "written through the symlink lnk")
        try assertRefused(link("usr/lib/up", "../../../etc", Self.sym), entry: "usr/lib/up", "leaves the package root")
        try assertRefused(link("up", "/usr/../../etc", Self.sym), entry: "up", "leaves the package root")
        let host = APKVerifyOptions(allowUntrusted: true, allowAbsoluteSymlinks: false)
        XCTAssertThrowsError(try APKReader.read(data: try package(link("shadow", "/etc/shadow", Self.sym)), file: "evil.apk", options: host)) { e in
            XCTAssertTrue("\(e)".contains("'shadow'") && "\(e)".contains("absolute path /etc/shadow"), "\(e)")
        }
        // The default accepts Debian libc6's absolute loader link.
        let ld = CraftedTar.pax(CraftedTar.record("APK-TOOLS.checksum.SHA1", try Digest.hash(.sha1, Data("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2".utf8)).hexString))
            + link("lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", Self.sym)
        XCTAssertNoThrow(try APKReader.read(data: try package(ld), file: "libc6.apk", options: strict))
        try assertRefused(link("h", "/etc/shadow", Self.hard), entry: "h", "hardlink to the absolute path")
        try assertRefused(link("h", "../outside", Self.hard), entry: "h", "leaves the package root")
        try assertRefused(link("h", "missing", Self.hard), entry: "h", "dangling hardlink")
    }

    func testDevicesAndFifosAreRefused() throws {
        try assertRefused(CraftedTar.header(name: "dev/sda", type: UInt8(ascii: "4"), sizeField: CraftedTar.octal(0)), entry: "dev/sda", "device node")
        try assertRefused(CraftedTar.header(name: "dev/tty", type: UInt8(ascii: "3"), sizeField: CraftedTar.octal(0)), entry: "dev/tty", "device node")
        try assertRefused(CraftedTar.header(name: "run/fifo", type: UInt8(ascii: "6"), sizeField: CraftedTar.octal(0)), entry: "run/fifo", "fifo")
    }

    func testBadNameAndVersionAreRefused() throws {
        XCTAssertThrowsError(try APKReader.read(data: try package([], name: "../../evil"), file: "evil.apk", options: strict)) { e in
            XCTAssertTrue("\(e)".contains("pkgname \"../../evil\""), "\(e)")
        }
        XCTAssertThrowsError(try APKReader.read(data: try package([], version: "not a version!"), file: "evil.apk", options: strict)) { e in
            XCTAssertTrue("\(e)".contains("pkgver \"not a version!\""), "\(e)")
        }
    }

    func testKilnIndexDoesNotSignThem() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let key = try TestKey.make(in: dir)
        try FileManager.default.createDirectory(atPath: dir + "/repo", withIntermediateDirectories: true)
        try package(link("shadow", "/etc/shadow", Self.hard)).write(to: URL(fileURLWithPath: dir + "/repo/evil-1-r0.apk"))
        XCTAssertThrowsError(try APKRepository.updateIndex(directory: dir + "/repo", signer: key.signer)) { e in
            XCTAssertTrue("\(e)".contains("'shadow'") && "\(e)".contains("hardlink to the absolute path"), "\(e)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/repo/APKINDEX.tar.gz"))
    }

    func testMalformedIndexRecordsAreRefused() {
        let c = "C:Q19UI7UxyiUywG6aew9c3lCBPshsE=\n"
        for (text, needle) in [("C:not-a-checksum\nP:a\nV:1-r0\n\n", "C:not-a-checksum"),
                               (c + "P:a\nV:not a version!\n\n", "V:not a version!"),
                               (c + "P:a\nV:1-r0\nS:-1\n\n", "must not be negative"),
                               (c + "P:../../evil\nV:1-r0\n\n", "P:../../evil")] {
            XCTAssertThrowsError(try APKIndex.parseText(text, file: "APKINDEX"), needle) { e in
                XCTAssertTrue("\(e)".contains(needle), "\(e)")
            }
        }
    }

    func testGzipBombIsRefusedBeforeInflating() throws {
        // ~1 MiB on disk, 1 GiB inflated: refused by the default 512 MiB limit while counting.
        let sink = DataSink()
        let gz = try GzipSink(sink, level: 9)
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        for _ in 0..<1024 { try zeros.withUnsafeBytes { try gz.write($0) } }
        try gz.finish()
        let bomb = sink.data + (try package([]))
        XCTAssertLessThan(bomb.count, 2 << 20)
        XCTAssertThrowsError(try APKReader.read(data: bomb, file: "bomb.apk", options: strict)) { e in
            XCTAssertTrue("\(e)".contains("bomb.apk") && "\(e)".contains("decompression limit"), "\(e)")
        }
        var small = strict
        small.maxInflatedMemberBytes = 4096
        XCTAssertThrowsError(try APKReader.read(data: try package(CraftedTar.file("big", [UInt8](repeating: 1, count: 8192))),
                                                file: "big.apk", options: small)) { e in
            XCTAssertTrue("\(e)".contains("decompression limit"), "\(e)")
        }
    }

    func testWellFormedCraftedPackageIsAccepted() throws {
        var f = CraftedTar.pax(CraftedTar.record("APK-TOOLS.checksum.SHA1", try Digest.hash(.sha1, Data("hi".utf8)).hexString))
        f += CraftedTar.file("usr/share/x", Array("hi".utf8))
        let rel = CraftedTar.pax(CraftedTar.record("APK-TOOLS.checksum.SHA1", try Digest.hash(.sha1, Data("x".utf8)).hexString))
            + link("usr/share/y", "x", Self.sym)
        let p = try APKReader.read(data: try package(f + rel + link("usr/share/z", "usr/share/x", Self.hard)), file: "ok.apk", options: strict)
        XCTAssertEqual(p.entries.map(\.path), ["usr/share/x", "usr/share/y", "usr/share/z"])
    }
}
