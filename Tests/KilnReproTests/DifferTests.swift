import Foundation
import XCTest
import KilnCore
import KilnArchive
import KilnTestSupport
@testable import KilnRepro

final class DifferTests: XCTestCase {
    func archive(_ entries: [TarEntry], epoch: Int64 = 1_700_000_000) throws -> Data { try ReproFixtures.archive(entries, epoch: epoch) }
    func write(_ data: Data, _ dir: String, _ name: String) throws -> String { try ReproFixtures.write(data, dir, name) }

    func baseEntries(buildInfo: String = "built on 2023-11-14 by kiln\nversion 1.0\n", binary: Data? = nil) throws -> [TarEntry] {
        var es: [TarEntry] = [
            .directory("usr"), .directory("usr/bin"), .directory("etc"),
            .file("etc/build-info", Data(buildInfo.utf8)),
            .file("usr/bin/tool", try binary ?? Data(contentsOf: URL(fileURLWithPath: "/usr/bin/true")), mode: 0o755),
            .symlink("usr/bin/t", to: "tool"),
        ]
        es.sort { $0.path < $1.path }
        return es
    }

    func testIdenticalArchivesAreReproducible() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let a = try write(try archive(try baseEntries()), dir, "a.apk")
        let b = try write(try archive(try baseEntries()), dir, "b.apk")
        let r = try Differ.compare(try ArtifactLoader.load(a), try ArtifactLoader.load(b))
        XCTAssertTrue(r.reproducible)
        XCTAssertEqual(r.differences.count, 0)
        XCTAssertEqual(r.verdict, "reproducible")
        XCTAssertNil(r.firstDifferingByte)
        XCTAssertTrue(r.render().hasSuffix("reproducible\n"))
    }

    func testTextDifferenceIsExplainedWithAUnifiedDiff() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let a = try write(try archive(try baseEntries(buildInfo: "line1\nbuilt on host-a at 02:00\nversion 1.0\nend\n")), dir, "a.apk")
        let b = try write(try archive(try baseEntries(buildInfo: "line1\nbuilt on host-b at 02:07\nversion 1.0\nend\n")), dir, "b.apk")
        let r = try Differ.compare(try ArtifactLoader.load(a), try ArtifactLoader.load(b))
        XCTAssertFalse(r.reproducible)
        XCTAssertEqual(r.differences.map(\.path), ["etc/build-info"])
        XCTAssertEqual(r.verdict, "NOT reproducible (1 differing entries)")
        let d = r.differences[0]
        XCTAssertEqual(d.firstDifferingByte, 20)       // "line1\nbuilt on host-" is 20 bytes
        XCTAssertTrue(d.attributes.contains { $0.attribute == "content" })
        XCTAssertFalse(d.attributes.contains { $0.attribute == "size" })
        XCTAssertEqual(d.textDiff, """
            --- a/etc/build-info
            +++ b/etc/build-info
            @@ -1,4 +1,4 @@
             line1
            -built on host-a at 02:00
            +built on host-b at 02:07
             version 1.0
             end
            """)
        XCTAssertNotNil(r.firstDifferingByte)
        XCTAssertNotNil(r.firstDifferingUncompressedByte)
        let text = r.render()
        XCTAssertTrue(text.contains("differs: etc/build-info: content sha256:"), text)
        XCTAssertTrue(text.contains("  +built on host-b at 02:07"), text)
        XCTAssertTrue(text.hasSuffix("NOT reproducible (1 differing entries)\n"), text)
    }

    func testAttributesOnlyOnOneSideAndLinkTargets() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        var eb = try baseEntries()
        eb.removeAll { $0.path == "usr/bin/t" }
        eb.append(.symlink("usr/bin/t", to: "other"))
        eb.append(.file("usr/share/extra", Data("x".utf8)))
        var i = eb.firstIndex { $0.path == "etc/build-info" }!
        eb[i].mode = 0o600; eb[i].uid = 1000; eb[i].mtime = 1_800_000_000
        i = eb.firstIndex { $0.path == "usr" }!
        eb.remove(at: i)
        let a = try write(try archive(try baseEntries()), dir, "a.tar.gz")
        let b = try write(try archive(eb), dir, "b.tar.gz")
        let r = try Differ.compare(try ArtifactLoader.load(a), try ArtifactLoader.load(b))
        let by = Dictionary(uniqueKeysWithValues: r.differences.map { ($0.path, $0) })
        XCTAssertEqual(by["usr/share/extra"]?.kind, .onlyInB)
        XCTAssertEqual(by["usr"]?.kind, .onlyInA)
        let attrs = Dictionary(uniqueKeysWithValues: by["etc/build-info"]!.attributes.map { ($0.attribute, $0) })
        XCTAssertEqual(attrs["mode"]?.a, "0644"); XCTAssertEqual(attrs["mode"]?.b, "0600")
        XCTAssertEqual(attrs["owner"]?.b.hasPrefix("1000:0"), true)
        XCTAssertEqual(attrs["mtime"]?.a, "1700000000"); XCTAssertEqual(attrs["mtime"]?.b, "1800000000")
        XCTAssertNil(attrs["content"])
        XCTAssertEqual(by["usr/bin/t"]?.attributes.map(\.attribute), ["link target"])
        XCTAssertEqual(r.differences.count, 4)
        XCTAssertEqual(r.verdict, "NOT reproducible (4 differing entries)")
    }

    func testELFSectionsThatDifferAreNamed() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let elf = try Data(contentsOf: URL(fileURLWithPath: "/usr/bin/true"))
        let sections = try XCTUnwrap(ELFSections.sections(elf))
        let rodata = try XCTUnwrap(sections.first { $0.name == ".rodata" })
        var patched = elf
        let at = Int(rodata.offset) + Int(rodata.size) / 2
        patched[at] ^= 0xff
        let a = try write(try archive(try baseEntries(binary: elf)), dir, "a.apk")
        let b = try write(try archive(try baseEntries(binary: patched)), dir, "b.apk")
        let r = try Differ.compare(try ArtifactLoader.load(a), try ArtifactLoader.load(b))
        XCTAssertEqual(r.differences.map(\.path), ["usr/bin/tool"])
        XCTAssertEqual(r.differences[0].elfSections, [".rodata (content)"])
        XCTAssertEqual(r.differences[0].firstDifferingByte, at)
        XCTAssertNil(r.differences[0].textDiff)
        XCTAssertTrue(r.render().contains("ELF sections that differ: .rodata (content)"))
    }

    func testSameEntriesInAnotherOrderStillCountAsADifference() throws {
        let es = try baseEntries()
        let w1 = DataSink(), w2 = DataSink()
        var o = TarWriterOptions(epoch: 1_700_000_000); o.sortEntries = false
        let t1 = try TarWriter(sink: w1, options: o), t2 = try TarWriter(sink: w2, options: o)
        for e in es { try t1.write(e) }
        for e in es.reversed() { try t2.write(e) }
        try t1.finish(); try t2.finish()
        let dir = try TestSupport.temporaryDirectory(self)
        let a = try write(w1.data, dir, "a.tar"), b = try write(w2.data, dir, "b.tar")
        let r = try Differ.compare(try ArtifactLoader.load(a), try ArtifactLoader.load(b))
        XCTAssertFalse(r.reproducible)
        XCTAssertEqual(r.differences.map(\.path), ["<archive entry order>"])
        XCTAssertEqual(r.verdict, "NOT reproducible (1 differing entries)")
        XCTAssertEqual(r.firstDifferingByte, 0)
    }

    func testUnifiedDiffHunks() {
        let a = Data((1...30).map { "l\($0)" }.joined(separator: "\n").utf8)
        var lines = (1...30).map { "l\($0)" }
        lines[1] = "changed"; lines.insert("new", at: 20)
        let b = Data(lines.joined(separator: "\n").utf8)
        let d = TextDiff.unified(a, b, nameA: "a", nameB: "b")!
        XCTAssertEqual(d, """
            --- a
            +++ b
            @@ -1,5 +1,5 @@
             l1
            -l2
            +changed
             l3
             l4
             l5
            @@ -18,6 +18,7 @@
             l18
             l19
             l20
            +new
             l21
             l22
             l23
            """)
        XCTAssertNil(TextDiff.unified(a, a, nameA: "a", nameB: "b"))
    }
}

final class ReproCLITests: XCTestCase {
    func testCompareExitStatusAndVerdictLine() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let t = ReproFixtures.self
        let a = try t.write(try t.archive([.file("etc/x", Data("one\n".utf8))]), dir, "a.apk")
        let b = try t.write(try t.archive([.file("etc/x", Data("two\n".utf8))]), dir, "b.apk")
        var r = try TestSupport.kiln(["repro", "--compare", a, a])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.hasSuffix("reproducible\n"), r.out)
        r = try TestSupport.kiln(["repro", "--compare", a, b])
        XCTAssertEqual(r.status, 1, r.err)
        XCTAssertTrue(r.out.contains("differs: etc/x: content"), r.out)
        XCTAssertTrue(r.out.hasSuffix("NOT reproducible (1 differing entries)\n"), r.out)
        r = try TestSupport.kiln(["repro", "--compare", a, b, "--json"])
        XCTAssertEqual(r.status, 1)
        let obj = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]
        XCTAssertEqual(obj?["verdict"] as? String, "NOT reproducible (1 differing entries)")
        XCTAssertEqual((obj?["differences"] as? [Any])?.count, 1)
        r = try TestSupport.kiln(["repro", "--compare", a, dir + "/missing.apk"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.err.contains("missing.apk"), r.err)
    }
}

enum ReproFixtures {
    /// A package-like .tar.gz made with KilnArchive.
    static func archive(_ entries: [TarEntry], epoch: Int64 = 1_700_000_000) throws -> Data {
        try Gzip.compress(try TarWriter.archive(entries, options: TarWriterOptions(epoch: epoch)))
    }

    static func write(_ data: Data, _ dir: String, _ name: String) throws -> String {
        let p = dir + "/" + name
        try data.write(to: URL(fileURLWithPath: p))
        return p
    }
}
