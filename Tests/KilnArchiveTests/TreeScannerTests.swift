import Foundation
import KilnTestSupport
import XCTest
@testable import KilnArchive

final class TreeScannerTests: XCTestCase {
    func testScanDetectsHardlinksAndRoundTrips() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let src = dir + "/src", fm = FileManager.default
        try fm.createDirectory(atPath: src + "/usr/bin", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: src + "/a-dir", withIntermediateDirectories: true)
        try Data("tool".utf8).write(to: URL(fileURLWithPath: src + "/usr/bin/tool"))
        chmod(src + "/usr/bin/tool", 0o755)
        XCTAssertEqual(link(src + "/usr/bin/tool", src + "/a-dir/tool-link"), 0)   // sorts first
        symlink("../usr/bin/tool", src + "/a-dir/sym")
        try Data("secret".utf8).write(to: URL(fileURLWithPath: src + "/usr/private"))
        chmod(src + "/usr/private", 0o600)
        let entries = try TreeScanner.entries(root: src)
        XCTAssertEqual(entries.map(\.path), ["a-dir", "a-dir/sym", "a-dir/tool-link", "usr", "usr/bin", "usr/bin/tool", "usr/private"])
        let byPath = Dictionary(uniqueKeysWithValues: entries.map { ($0.path, $0) })
        XCTAssertEqual(byPath["a-dir/tool-link"]?.kind, .file)
        XCTAssertEqual(byPath["usr/bin/tool"]?.kind, .hardlink(target: "a-dir/tool-link"))
        XCTAssertEqual(byPath["a-dir/sym"]?.kind, .symlink(target: "../usr/bin/tool"))
        XCTAssertEqual(byPath["usr/private"]?.mode, 0o600)
        XCTAssertEqual(byPath["a-dir/tool-link"]?.mode, 0o755)
        XCTAssertEqual(byPath["usr"]?.uname, "root")
        XCTAssertEqual(byPath["usr/private"]?.size, 6)

        let tgz = dir + "/t.tar.gz"
        let file = try FileSink(path: tgz)
        let gz = try ParallelGzipSink(file, level: 6, threads: 2)
        let w = try TarWriter(sink: gz, options: .init(epoch: 1_234_567_890))
        for e in entries { try w.write(e) }
        try w.finish(); try gz.close()
        let out = try ArchiveReader.extract(path: tgz, to: dir + "/dst")
        XCTAssertEqual(out.map(\.path), entries.map(\.path))
        XCTAssertEqual(fm.contents(atPath: dir + "/dst/usr/private"), Data("secret".utf8))
        XCTAssertEqual(try fm.destinationOfSymbolicLink(atPath: dir + "/dst/a-dir/sym"), "../usr/bin/tool")
        var a = stat(), b = stat()
        stat(dir + "/dst/usr/bin/tool", &a); stat(dir + "/dst/a-dir/tool-link", &b)
        XCTAssertEqual(a.st_ino, b.st_ino)
        XCTAssertEqual(a.st_mode & 0o7777, 0o755)
        // the rescanned extracted tree archives to the same bytes
        let again = try TarWriter.archive(TreeScanner.entries(root: dir + "/dst"), options: .init(epoch: 1_234_567_890))
        XCTAssertEqual(again, try TarWriter.archive(entries, options: .init(epoch: 1_234_567_890)))
    }

    func testRefusesFifo() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        XCTAssertEqual(mkfifo(dir + "/pipe", 0o644), 0)
        XCTAssertThrowsError(try TreeScanner.entries(root: dir)) { XCTAssertTrue("\($0)".contains("/pipe"), "\($0)") }
    }
}
