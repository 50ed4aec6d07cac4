import Foundation
import KilnTestSupport
import XCTest
@testable import KilnArchive

final class ReaderTests: XCTestCase {
    /// Builds a tar with Python's tarfile; `spec` is Python code adding members to `t`.
    func pythonTar(_ dir: String, _ name: String, _ spec: String) throws -> String {
        let path = dir + "/" + name
        let py = """
        import tarfile, io, sys
        def add(t, name, data=b"", type=tarfile.REGTYPE, mode=0o644, link=""):
            i = tarfile.TarInfo(name); i.type = type; i.mode = mode; i.linkname = link; i.size = len(data) if type == tarfile.REGTYPE else 0
            t.addfile(i, io.BytesIO(data) if type == tarfile.REGTYPE else None)
        with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
        \(spec.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
        """
        let r = try TestSupport.run("/usr/bin/python3", ["-c", py, path])
        XCTAssertEqual(r.status, 0, r.err)
        return path
    }

    func assertRefused(_ spec: String, entry: String, _ reason: String, options: ExtractOptions = .init(),
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let tar = try pythonTar(dir, "evil.tar", spec)
        let dest = dir + "/root"
        XCTAssertThrowsError(try ArchiveReader.extract(path: tar, to: dest, options: options), file: file, line: line) { e in
            let msg = "\(e)"
            XCTAssertTrue(msg.contains("'\(entry)'"), "error does not name \(entry): \(msg)", file: file, line: line)
            XCTAssertTrue(msg.contains(reason), "error does not say \(reason): \(msg)", file: file, line: line)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/pwned"), file: file, line: line)
    }

    func testRefusesAbsolutePath() throws {
        try assertRefused(#"add(t, "/tmp/kiln-abs-pwned", b"x")"#, entry: "/tmp/kiln-abs-pwned", "absolute")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/kiln-abs-pwned"))
    }

    func testRefusesDotDot() throws {
        try assertRefused(#"add(t, "a/../../pwned", b"x")"#, entry: "a/../../pwned", "'..'")
    }

    func testRefusesSymlinkEscape() throws {
        try assertRefused(#"add(t, "link", type=tarfile.SYMTYPE, link="../..")"#, entry: "link", "outside")
        // escape through an earlier symlink that points to "." (lexically inside, really outside)
        try assertRefused("""
        add(t, "d", type=tarfile.DIRTYPE, mode=0o755)
        add(t, "d/s", type=tarfile.SYMTYPE, link=".")
        add(t, "d/l", type=tarfile.SYMTYPE, link="s/../../x")
        """, entry: "d/l", "outside")
    }

    func testRefusesWritingThroughSymlink() throws {
        unlink("/tmp/kiln-through-pwned")
        defer { XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/kiln-through-pwned")) }
        try assertRefused("""
        add(t, "up", type=tarfile.SYMTYPE, link="/")
        add(t, "up/tmp/kiln-through-pwned", b"x")
        """, entry: "up/tmp/kiln-through-pwned", "through symlink")
        try assertRefused("""
        add(t, "sub", type=tarfile.SYMTYPE, link="sub2")
        add(t, "sub2", type=tarfile.DIRTYPE, mode=0o755)
        add(t, "sub/file", b"x")
        """, entry: "sub/file", "through symlink")
    }

    func testRefusesHardlinkOutside() throws {
        try assertRefused(#"add(t, "h", type=tarfile.LNKTYPE, link="../../../etc/passwd")"#, entry: "h", "'..'")
        try assertRefused(#"add(t, "h", type=tarfile.LNKTYPE, link="/etc/passwd")"#, entry: "h", "absolute")
        try assertRefused("""
        add(t, "s", type=tarfile.SYMTYPE, link="/etc")
        add(t, "h", type=tarfile.LNKTYPE, link="s/passwd")
        """, entry: "h", "through symlink")
    }

    func testRefusesDevicesFifosAndSetuid() throws {
        try assertRefused(#"add(t, "dev/null", type=tarfile.CHRTYPE, mode=0o666)"#, entry: "dev/null", "device")
        try assertRefused(#"add(t, "dev/sda", type=tarfile.BLKTYPE, mode=0o660)"#, entry: "dev/sda", "device")
        try assertRefused(#"add(t, "fifo", type=tarfile.FIFOTYPE)"#, entry: "fifo", "fifo")
        try assertRefused(#"add(t, "bin/su", b"x", mode=0o4755)"#, entry: "bin/su", "setuid")
        try assertRefused(#"add(t, "bin/sg", b"x", mode=0o2755)"#, entry: "bin/sg", "setgid")
        // allowed when asked
        let dir = try TestSupport.temporaryDirectory(self)
        let tar = try pythonTar(dir, "ok.tar", #"add(t, "bin/su", b"x", mode=0o4755)"#)
        try ArchiveReader.extract(path: tar, to: dir + "/r", options: .init(allowSetuid: true))
        let attrs = try FileManager.default.attributesOfItem(atPath: dir + "/r/bin/su")
        XCTAssertEqual((attrs[.posixPermissions] as? NSNumber)?.uint32Value, 0o4755)
    }

    func testExtractionRoundTripOfATree() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let entries: [TarEntry] = [
            .directory("etc"), .file("etc/motd", Data("hello\n".utf8)), .directory("ro", mode: 0o555),
            .file("ro/inside", Data("ro".utf8), mode: 0o444), .symlink("etc/motd-link", to: "motd"),
            .symlink("abs", to: "/etc/motd"),
            TarEntry(path: "etc/motd-hard", kind: .hardlink(target: "etc/motd"), mode: 0o644),
            .file("bin/tool", Data("#!/bin/sh\n".utf8), mode: 0o755),
        ]
        let tgz = try Gzip.compress(try TarWriter.archive(entries, options: .init(epoch: 1_600_000_000)))
        try tgz.write(to: URL(fileURLWithPath: dir + "/t.tar.gz"))
        let out = try ArchiveReader.extract(path: dir + "/t.tar.gz", to: dir + "/root")
        XCTAssertEqual(out.map(\.path), ["abs", "bin", "bin/tool", "etc", "etc/motd", "etc/motd-hard", "etc/motd-link", "ro", "ro/inside"].filter { $0 != "bin" })
        let fm = FileManager.default
        XCTAssertEqual(fm.contents(atPath: dir + "/root/etc/motd"), Data("hello\n".utf8))
        XCTAssertEqual(try fm.destinationOfSymbolicLink(atPath: dir + "/root/etc/motd-link"), "motd")
        XCTAssertEqual(try fm.destinationOfSymbolicLink(atPath: dir + "/root/abs"), "/etc/motd")
        var a = stat(), b = stat()
        stat(dir + "/root/etc/motd", &a); stat(dir + "/root/etc/motd-hard", &b)
        XCTAssertEqual(a.st_ino, b.st_ino)
        XCTAssertEqual(a.st_mtim.tv_sec, 1_600_000_000)
        XCTAssertEqual((try fm.attributesOfItem(atPath: dir + "/root/ro")[.posixPermissions] as? NSNumber)?.intValue, 0o555)
        XCTAssertEqual((try fm.attributesOfItem(atPath: dir + "/root/bin/tool")[.posixPermissions] as? NSNumber)?.intValue, 0o755)
        chmod(dir + "/root/ro", 0o755)   // let the temp dir be removed
        // in-memory listing of the gzip'd archive matches what was written
        let listed = try ArchiveReader.entries(data: tgz)
        XCTAssertEqual(listed.first { $0.entry.path == "etc/motd" }?.data, Data("hello\n".utf8))
        XCTAssertEqual(listed.first { $0.entry.path == "ro" }?.entry.kind, .directory)
    }

    func testMultiMemberGzipTarReadsAsOneStream() throws {
        // APK layout: fragments without end-of-archive blocks, then a complete tar, each its own member
        let a = try TarWriter.archive([.file(".SIGN.RSA256.k.pub", Data([1, 2, 3]))], options: .init(epoch: 0, endOfArchive: false))
        let b = try TarWriter.archive([.file(".PKGINFO", Data("pkgname = x\n".utf8))], options: .init(epoch: 0, endOfArchive: false))
        var fileEntry = TarEntry.file("usr/bin/x", Data("bin".utf8), mode: 0o755)
        fileEntry.pax["APK-TOOLS.checksum.SHA1"] = "abc"
        let c = try TarWriter.archive([.directory("usr"), .directory("usr/bin"), fileEntry], options: .init(epoch: 0))
        let apk = try Gzip.compress(a) + Gzip.compress(b) + Gzip.compress(c)
        XCTAssertEqual(try Gzip.memberRanges(apk).count, 3)
        let entries = try ArchiveReader.entries(data: apk)
        XCTAssertEqual(entries.map(\.entry.path), [".SIGN.RSA256.k.pub", ".PKGINFO", "usr", "usr/bin", "usr/bin/x"])
        XCTAssertEqual(entries.last?.entry.pax["APK-TOOLS.checksum.SHA1"], "abc")
        let dir = try TestSupport.temporaryDirectory(self)
        try apk.write(to: URL(fileURLWithPath: dir + "/p.apk"))
        let r = try TestSupport.run("/usr/bin/tar", ["-tzf", dir + "/p.apk"])
        XCTAssertEqual(r.out.split(separator: "\n").count, 5, r.out + r.err)
        // libarchive's own gzip filter (streaming extract) also reads across the member boundaries
        let out = try ArchiveReader.extract(path: dir + "/p.apk", to: dir + "/root")
        XCTAssertEqual(out.map(\.path), [".SIGN.RSA256.k.pub", ".PKGINFO", "usr", "usr/bin", "usr/bin/x"])
        XCTAssertEqual(FileManager.default.contents(atPath: dir + "/root/usr/bin/x"), Data("bin".utf8))
    }
}

final class ReaderFormatTests: XCTestCase {
    func testReadsXzCompressedTarAndRejectsGarbage() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let tar = try TarWriter.archive([.directory("d"), .file("d/f", Data("xz".utf8))], options: .init(epoch: 0))
        try tar.write(to: URL(fileURLWithPath: dir + "/t.tar"))
        let r = try TestSupport.run("/usr/bin/xz", ["-k", dir + "/t.tar"])
        XCTAssertEqual(r.status, 0, r.err)
        let entries = try ArchiveReader.entries(path: dir + "/t.tar.xz")
        XCTAssertEqual(entries.map(\.entry.path), ["d", "d/f"])
        XCTAssertEqual(entries.last?.data, Data("xz".utf8))
        XCTAssertThrowsError(try ArchiveReader.entries(data: Data("this is not an archive at all".utf8)))
        XCTAssertThrowsError(try ArchiveReader.entries(path: dir + "/missing.tar")) { XCTAssertTrue("\($0)".contains("missing.tar")) }
    }
}
