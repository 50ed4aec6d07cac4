import Foundation
import KilnTestSupport
import XCTest
@testable import KilnArchive

final class TarWriterTests: XCTestCase {
    let epoch: Int64 = 1_700_000_000
    let longName = "usr/share/" + String(repeating: "very-long-directory-name/", count: 5) + "file-with-a-long-name.txt"

    func sampleEntries(_ dir: String) throws -> [TarEntry] {
        let onDisk = dir + "/big.bin"
        try Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }).write(to: URL(fileURLWithPath: onDisk))
        var f = TarEntry.file("usr/bin/hello", Data("#!/bin/sh\necho hi\n".utf8), mode: 0o755)
        f.pax["APK-TOOLS.checksum.SHA1"] = "0123456789abcdef0123456789abcdef01234567"
        var x = TarEntry.file("etc/xattr-file", Data("x".utf8))
        x.xattrs["user.kiln"] = Data("value1".utf8)
        var owned = TarEntry.file("home/user/owned", Data("mine".utf8), mode: 0o600)
        owned.uid = 1000; owned.gid = 1001; owned.uname = "alice"; owned.gname = "staff"
        return [
            TarEntry.directory("usr"), TarEntry.directory("usr/bin"), f, TarEntry.directory("etc"), x, owned,
            TarEntry.symlink("usr/bin/hi", to: "hello"),
            TarEntry(path: "usr/bin/hello-again", kind: .hardlink(target: "usr/bin/hello"), mode: 0o755),
            TarEntry(path: "usr/lib/big.bin", kind: .file, mode: 0o644, content: .file(path: onDisk)),
            TarEntry.file(longName, Data("long".utf8)),
        ]
    }

    func testWrittenTwiceIsByteIdenticalAndSorted() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let a = try TarWriter.archive(sampleEntries(dir), options: .init(epoch: epoch))
        let b = try TarWriter.archive(sampleEntries(dir).reversed(), options: .init(epoch: epoch))
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.count % 512, 0)
        XCTAssertTrue(a.suffix(1024).allSatisfy { $0 == 0 }, "end-of-archive blocks present")
        let paths = try ArchiveReader.entries(data: a).map(\.entry.path)
        XCTAssertEqual(paths, paths.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        XCTAssertEqual(paths.count, 10)
    }

    func testGNUTarListsOwnersModesTimesAndLinks() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let tar = dir + "/t.tar"
        try TarWriter.archive(sampleEntries(dir), options: .init(epoch: epoch)).write(to: URL(fileURLWithPath: tar))
        let r = try TestSupport.run("/usr/bin/tar", ["--numeric-owner", "--full-time", "-tvf", tar], environment: ["TZ": "UTC", "LC_ALL": "C"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertFalse(r.err.contains("LIBARCHIVE"), "GNU tar warned: \(r.err)")
        let lines = r.out.split(separator: "\n").map(String.init)
        func line(_ suffix: String) -> String? { lines.first { $0.hasSuffix(suffix) } }
        XCTAssertEqual(line(" usr/bin/hello")?.hasPrefix("-rwxr-xr-x 0/0"), true, r.out)
        XCTAssertEqual(line(" usr/bin/hello")?.contains("2023-11-14 22:13:20"), true, r.out)
        XCTAssertEqual(line(" home/user/owned")?.hasPrefix("-rw------- 1000/1001"), true, r.out)
        XCTAssertEqual(line(" usr/bin/hi -> hello")?.hasPrefix("lrwxrwxrwx 0/0"), true, r.out)
        XCTAssertNotNil(line(" usr/bin/hello-again link to usr/bin/hello"), r.out)
        XCTAssertEqual(line(" usr/")?.hasPrefix("drwxr-xr-x 0/0"), true, r.out)
        XCTAssertNotNil(line(" " + longName), r.out)
        XCTAssertEqual(line(" usr/lib/big.bin")?.contains(" 300000 "), true, r.out)
        let named = try TestSupport.run("/usr/bin/tar", ["-tvf", tar], environment: ["TZ": "UTC", "LC_ALL": "C"])
        XCTAssertTrue(named.out.contains("alice/staff"), named.out)
        XCTAssertTrue(named.out.contains("root/root"), named.out)
        // contents round-trip through GNU tar
        let x = dir + "/x"
        try FileManager.default.createDirectory(atPath: x, withIntermediateDirectories: true)
        XCTAssertEqual(try TestSupport.run("/usr/bin/tar", ["-xf", tar, "-C", x]).status, 0)
        XCTAssertEqual(FileManager.default.contents(atPath: x + "/usr/lib/big.bin"), FileManager.default.contents(atPath: dir + "/big.bin"))
        XCTAssertEqual(FileManager.default.contents(atPath: x + "/" + longName), Data("long".utf8))
    }

    func testNoAtimeCtimeAndCustomPaxAndXattrRecords() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let data = try TarWriter.archive(sampleEntries(dir), options: .init(epoch: epoch))
        let text = String(decoding: data, as: UTF8.self)
        XCTAssertFalse(text.contains("atime="))
        XCTAssertFalse(text.contains("ctime="))
        XCTAssertFalse(text.contains("LIBARCHIVE.xattr"))
        XCTAssertTrue(text.contains(" APK-TOOLS.checksum.SHA1=0123456789abcdef0123456789abcdef01234567\n"))
        XCTAssertTrue(text.contains(" SCHILY.xattr.user.kiln=value1\n"))
        // read back: custom record on the right entry only; xattr via libarchive
        let entries = try ArchiveReader.entries(data: data)
        let hello = try XCTUnwrap(entries.first { $0.entry.path == "usr/bin/hello" })
        XCTAssertEqual(hello.entry.pax, ["APK-TOOLS.checksum.SHA1": "0123456789abcdef0123456789abcdef01234567"])
        XCTAssertEqual(entries.filter { !$0.entry.pax.isEmpty }.count, 1)
        let x = try XCTUnwrap(entries.first { $0.entry.path == "etc/xattr-file" })
        XCTAssertEqual(x.entry.xattrs["user.kiln"], Data("value1".utf8))
        // GNU tar sees the custom record through --pax-option and the xattr with --xattrs
        let tar = dir + "/t.tar"
        try data.write(to: URL(fileURLWithPath: tar))
        let r = try TestSupport.run("/usr/bin/tar", ["--xattrs", "--xattrs-include=*", "-tvvf", tar])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("user.kiln"), "tar --xattrs does not show the xattr:\n\(r.out)")
        let py = """
        import tarfile,sys
        for m in tarfile.open(sys.argv[1]):
            if m.pax_headers: print(m.name, sorted(m.pax_headers.items()))
        """
        let p = try TestSupport.run("/usr/bin/python3", ["-c", py, tar])
        XCTAssertEqual(p.status, 0, p.err)
        XCTAssertTrue(p.out.contains("usr/bin/hello [('APK-TOOLS.checksum.SHA1', '0123456789abcdef0123456789abcdef01234567')]"), p.out)
        XCTAssertTrue(p.out.contains("('SCHILY.xattr.user.kiln', 'value1')"), p.out)
    }

    func testCustomPaxOnLongNameMergesIntoOneHeader() throws {
        var e = TarEntry.file(longName, Data("abc".utf8))
        e.pax["APK-TOOLS.checksum.SHA1"] = "a9993e364706816aba3e25717850c26c9cd0d89d"
        let data = try TarWriter.archive([e], options: .init(epoch: epoch))
        XCTAssertEqual(data.count, 512 * 6)   // one x header + its records, ustar header, data, 2 EOA blocks
        let back = try ArchiveReader.entries(data: data)
        XCTAssertEqual(back.count, 1)
        XCTAssertEqual(back[0].entry.path, longName)
        XCTAssertEqual(back[0].entry.pax["APK-TOOLS.checksum.SHA1"], "a9993e364706816aba3e25717850c26c9cd0d89d")
        XCTAssertEqual(back[0].data, Data("abc".utf8))
    }

    func testEndOfArchiveOmittedHasNoZeroBlock() throws {
        var pkginfo = TarEntry.file(".PKGINFO", Data("pkgname = x\n".utf8))
        pkginfo.pax["APK-TOOLS.checksum.SHA1"] = "00"
        let empty = TarEntry.file(".post-install", Data(), mode: 0o755)
        let sink = DataSink()
        let w = try TarWriter(sink: sink, options: .init(epoch: epoch, endOfArchive: false))
        try w.write(empty); try w.write(pkginfo)
        try w.finish()
        let d = sink.data
        XCTAssertEqual(d.count % 512, 0)
        XCTAssertEqual(w.bytesWritten, Int64(d.count))
        for i in stride(from: 0, to: d.count, by: 512) {
            XCTAssertFalse(d[i..<(i + 512)].allSatisfy { $0 == 0 }, "zero block at \(i)")
        }
        // still readable as a tar fragment, in byte order (.PKGINFO before .post-install)
        XCTAssertEqual(try ArchiveReader.entries(data: d).map(\.entry.path), [".PKGINFO", ".post-install"])
    }

    func testRejectsBadPathsAndSizeChanges() throws {
        for bad in ["/abs", "../up", "a/../b", ""] {
            XCTAssertThrowsError(try TarWriter.archive([TarEntry.file(bad, Data())], options: .init(epoch: 0)), bad)
        }
        XCTAssertThrowsError(try TarWriter.archive([TarEntry.file("a", Data()), TarEntry.file("a", Data())], options: .init(epoch: 0)))
        let missing = TarEntry(path: "m", kind: .file, mode: 0o644, content: .file(path: "/nonexistent/kiln"))
        XCTAssertThrowsError(try TarWriter.archive([missing], options: .init(epoch: 0))) {
            XCTAssertTrue("\($0)".contains("/nonexistent/kiln"), "\($0)")
        }
    }
}

final class TarWriterUnicodeTests: XCTestCase {
    func testNonASCIIPathsRoundTrip() throws {
        let names = ["usr/share/naïve-ü.txt", "etc/日本語", "x/" + String(repeating: "é", count: 80)]
        var entries = names.map { TarEntry.file($0, Data($0.utf8)) }
        entries.append(.symlink("link-ß", to: "etc/日本語"))
        let data = try TarWriter.archive(entries, options: .init(epoch: 0))
        XCTAssertFalse(String(decoding: data, as: UTF8.self).contains("hdrcharset"))
        let back = try ArchiveReader.entries(data: data)
        XCTAssertEqual(Set(back.map(\.entry.path)), Set(names + ["link-ß"]))
        for b in back where b.entry.kind == .file { XCTAssertEqual(b.data, Data(b.entry.path.utf8)) }
        XCTAssertEqual(back.first { $0.entry.path == "link-ß" }?.entry.kind, .symlink(target: "etc/日本語"))
        let dir = try TestSupport.temporaryDirectory(self)
        try data.write(to: URL(fileURLWithPath: dir + "/u.tar"))
        let r = try TestSupport.run("/usr/bin/python3", ["-c", "import tarfile,sys; print('\\n'.join(tarfile.open(sys.argv[1]).getnames()))", dir + "/u.tar"])
        XCTAssertEqual(Set(r.out.split(separator: "\n").map(String.init)), Set(names + ["link-ß"]), r.err)
    }
}
