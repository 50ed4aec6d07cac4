import Foundation
import KilnAPK
import KilnArchive
import KilnCore
import KilnCrypto
import KilnFIPS
@testable import KilnImage
import KilnOCI
import KilnTestSupport
import XCTest

/// Image assembly streams package payloads (APK → spill files → layer tar → gzip) instead of holding
/// them in memory; these tests pin the layer bytes and check the bounded paths.
final class StreamingImageTests: XCTestCase {
    /// Deterministic pseudo-random bytes (xorshift), so a large file compresses poorly and is the same every run.
    static func noise(_ count: Int, seed: UInt64) -> Data {
        var x = seed | 1
        var d = Data(count: count)
        d.withUnsafeMutableBytes { (b: UnsafeMutableRawBufferPointer) in
            for i in 0..<count {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17
                b[i] = UInt8(truncatingIfNeeded: x)
            }
        }
        return d
    }

    /// Packages of text files, a 3 MiB file (bigger than every read buffer and the inline limit),
    /// a hardlink, a symlink and an empty file; the key is generated per process, so only layers that
    /// do not carry `etc/apk/keys` are pinned.
    func makeRepo(_ dir: String) throws -> TestRepo {
        let repo = try TestRepo(dir: dir)
        try repo.add(.init(name: "base-files", version: "1.0-r0", files: [
            .directory("etc"), TestRepo.file("etc/hostname", "kiln\n"), .directory("usr"), .directory("usr/bin"),
            .directory("usr/lib"), .symlink("lib", to: "usr/lib"),
        ]))
        var big = TarEntry.file("usr/lib/libbig.so.1", StreamingImageTests.noise(3 << 20, seed: 42), mode: 0o755)
        big.uid = 0
        var hard = TarEntry(path: "usr/lib/libbig.so.2", kind: .hardlink(target: "usr/lib/libbig.so.1"), mode: 0o755)
        hard.uid = 0
        try repo.add(.init(name: "big", version: "2.0-r1", origin: "bigsrc", depends: ["base-files"], files: [
            .directory("usr"), .directory("usr/lib"), big, hard, .file("usr/lib/empty", Data()),
            TestRepo.file("usr/lib/small.txt", String(repeating: "small ", count: 300)),
        ]))
        try repo.add(.init(name: "hello", version: "1.0-r0", depends: ["big"], files: [
            .directory("usr"), .directory("usr/bin"), TestRepo.file("usr/bin/hello", "#!/bin/sh\necho hi\n", mode: 0o755),
        ]))
        try repo.writeIndex()
        return repo
    }

    func build(_ dir: String, _ repo: TestRepo, threads: Int = 0) throws -> [VariantResult] {
        let cfg = dir + "/img.yaml"
        try """
        contents:
          repositories: [\(repo.repoDir)]
          keyring: [\(repo.keyPath)]
          packages: [hello]
        layering: {strategy: origin, budget: 3}
        """.write(toFile: cfg, atomically: true, encoding: .utf8)
        var o = ImageBuildOptions()
        o.sourceDateEpoch = 1_700_000_100
        o.variants = [.standard]
        o.threads = threads
        return try ImageBuilder(config: try ImageConfig.load(path: cfg), options: o).build(out: dir + "/layout")
    }

    /// The package layers' digests and diff_ids are the bytes kiln wrote before image assembly
    /// streamed (captured from main b9d3a89, which held every package in memory): the refactor
    /// changed no byte.
    func testPackageLayerBytesUnchangedByStreaming() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let repo = try makeRepo(dir)
        let r = try build(dir, repo)
        XCTAssertEqual(r.count, 1)
        let layers = r[0].layers.dropLast()   // the top layer carries the per-process test key
        let got = layers.map { "\($0.descriptor.digest) \($0.diffID) \($0.descriptor.size)" }
        XCTAssertEqual(got, StreamingImageTests.golden)
        // Same bytes for one thread, and no spill files left beside or inside the layout.
        let one = try TestSupport.temporaryDirectory(self)
        let r1 = try build(one, repo, threads: 1)
        XCTAssertEqual(r1[0].manifest.digest, r[0].manifest.digest)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir + "/layout").sorted()
        XCTAssertEqual(leftovers, ["blobs", "index.json", "oci-layout"])
    }

    /// A signed package whose data member is a 64 MiB file of zeros (about 0.3 MB compressed),
    /// written a piece at a time so the test never holds it.
    func writeBomb(_ repo: TestRepo) throws -> String {
        let sink = DataSink()
        let gz = try GzipSink(sink, level: 1)
        let size = 64 << 20
        try gz.write(CraftedTar.header(name: "usr/share/zeros", sizeField: CraftedTar.octal(size)))
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        for _ in 0..<(size >> 20) { try gz.write(zeros) }
        try gz.write([UInt8](repeating: 0, count: 1024))
        try gz.finish()
        let data = sink.data
        let info = "pkgname = bomb\npkgver = 1-r0\narch = x86_64\nsize = \(size)\ndatahash = \(try Digest.hash(.sha256, data).hexString)\n"
        let control = try TestRepo.gzipFragment([.file(".PKGINFO", Data(info.utf8))])
        let apk = try repo.signatureMember(over: control) + control + data
        let path = repo.repoDir + "/x86_64/bomb-1-r0.apk"
        try apk.write(to: URL(fileURLWithPath: path))
        repo.records.append("C:Q1\(try Digest.hash(.sha1, control).base64String)\nP:bomb\nV:1-r0\nA:x86_64\nS:\(apk.count)\nI:\(size)\nT:bomb\n")
        return path
    }

    /// A data member that inflates past the limit (here `KILN_MAX_INFLATED_BYTES` = 32 MiB, so the
    /// test stays fast; the default 512 MiB is HostilePackageTests') is refused while it streams,
    /// naming the package; nothing is left in the output directory (no layout, no spill files).
    /// A spilled file whose copy vanished is an error naming it, never empty bytes.
    func testMissingSpillFileIsAnErrorNotEmptyBytes() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        var n = FSNode(kind: .file, mode: 0o644)
        n.content = .spilled(path: dir + "/gone", size: 12)
        XCTAssertThrowsError(try n.bytes()) { XCTAssertTrue("\($0)".contains(dir + "/gone"), "\($0)") }
        try AtomicFile.write("hello spill\n", to: dir + "/gone")
        XCTAssertEqual(try n.bytes(), Data("hello spill\n".utf8))
        n.setBytes(Data("x".utf8))
        XCTAssertEqual(n.content, .inline(Data("x".utf8)))
    }

    /// Comparing spilled contents whose spill file cannot be opened or read is an error naming it
    /// (a read error used to become an empty chunk, so two unreadable files of one size compared
    /// equal), and so is a FIPS module identity whose bytes cannot be read back (it used to be a
    /// silently missing annotation).
    func testUnreadableSpillFileIsAnErrorInComparisonsAndFIPSAnnotations() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try AtomicFile.write("hello spill\n", to: dir + "/here")
        let here = FileContent.spilled(path: dir + "/here", size: 12)
        XCTAssertTrue(try here.sameBytes(.inline(Data("hello spill\n".utf8))))
        XCTAssertFalse(try here.sameBytes(.inline(Data("hello spilt\n".utf8))))
        XCTAssertThrowsError(try FileContent.spilled(path: dir + "/gone", size: 12).sameBytes(here)) {
            XCTAssertTrue("\($0)".contains(dir + "/gone"), "\($0)")
        }
        // directories open but cannot be read: read errors, not two equal empty files
        for d in ["d1", "d2"] { try FileManager.default.createDirectory(atPath: dir + "/" + d, withIntermediateDirectories: true) }
        XCTAssertThrowsError(try FileContent.spilled(path: dir + "/d1", size: 12).sameBytes(.spilled(path: dir + "/d2", size: 12))) {
            XCTAssertTrue("\($0)".contains(dir + "/d1"), "\($0)")
        }
        var tree = ImageTree()
        tree.setNode(FIPSModuleIdentity.packagePath, FSNode(kind: .file, mode: 0o644, content: .spilled(path: dir + "/gone", size: 40)))
        XCTAssertThrowsError(try FIPSAnnotations.from(tree: tree, packages: [])) {
            XCTAssertTrue("\($0)".contains(FIPSModuleIdentity.packagePath) && "\($0)".contains(dir + "/gone"), "\($0)")
        }
    }

    func testDecompressionBombPackageIsRefusedWhileStreaming() throws {
        setenv("KILN_MAX_INFLATED_BYTES", "\(32 << 20)", 1)
        defer { unsetenv("KILN_MAX_INFLATED_BYTES") }
        let dir = try TestSupport.temporaryDirectory(self)
        let repo = try TestRepo(dir: dir)
        try repo.add(.init(name: "hello", version: "1.0-r0", depends: ["bomb"], files: [TestRepo.file("hello", "hi\n")]))
        let bomb = try writeBomb(repo)
        try repo.writeIndex()
        XCTAssertLessThan(try FileManager.default.attributesOfItem(atPath: bomb)[.size] as! Int, 1 << 20)
        XCTAssertThrowsError(try build(dir, repo)) { e in
            XCTAssertTrue("\(e)".contains("bomb-1-r0.apk") && "\(e)".contains("decompression limit"), "\(e)")
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0 != "img.yaml" && $0 != "repo" && !$0.hasSuffix(".pub") }
        XCTAssertEqual(left, [], "left in the output directory: \(left)")
    }

    static let golden = [
        "sha256:22a123831713fc7fd179d55a65eda887fa5083ecff36ecce74e91377d729e32e sha256:d7e751bfbb0585a2cd6282dd1e61b8c9e874fe026626e276b9b842f3fc630ab9 6292846",
        "sha256:6291cff4774bf651ad0b7a845d17516e634452ce6a2c67ff8623f81678387784 sha256:69fcbde6713c6f4a1bec98fb03e1878ff5b530e177608d48def780c3536f1bc9 162",
    ]
}
