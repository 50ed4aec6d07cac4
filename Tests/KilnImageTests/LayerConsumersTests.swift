import Foundation
import KilnArchive
import KilnCore
import KilnCrypto
@testable import KilnImage
import KilnOCI
import KilnTestSupport
import XCTest

/// Image layers are several gzip members (one per 1 MiB chunk, `ParallelGzipSink`). Every consumer
/// must read them as one stream: Go's gzip (umoci unpack and raw unpack, skopeo copy/inspect), Python's
/// gzip, GNU gzip, libarchive (bsdtar) and `kiln run`. Each reader's view of the layer is checked
/// against the diff_id and the entry list, not just its exit status.
final class LayerConsumersTests: XCTestCase {
    func testEveryConsumerReadsMultiMemberLayers() throws {
        for tool in ["skopeo", "umoci", "bsdtar", "gzip", "python3"] where Subprocess.which(tool) == nil {
            throw XCTSkip("\(tool) missing; run `make deps`")
        }
        let dir = try TestSupport.temporaryDirectory(self)
        let repo = try TestRepo(dir: dir)
        let hello = try TestRepo.staticProgram("hello from a chunked layer", dir: dir)
        // 3.5 MB of compressible, non-repeating text: the layer has at least 3 members.
        var big = Data(capacity: 3_500_000)
        var x: UInt64 = 7
        while big.count < 3_500_000 {
            x = x &* 6364136223846793005 &+ 1442695040888963407
            big.append(contentsOf: "row \(x >> 40) of the kiln layer test\n".utf8)
        }
        try repo.add(.init(name: "hello", version: "1.0-r0", files: [
            .directory("usr"), .directory("usr/bin"), .file("usr/bin/hello", hello, mode: 0o755),
            .directory("usr/share"), .file("usr/share/big.txt", big),
        ]))
        try repo.writeIndex()
        let cfg = dir + "/hello.yaml"
        try """
        contents:
          repositories: [\(repo.repoDir)]
          keyring: [\(repo.keyPath)]
          packages: [hello]
        entrypoint:
          command: /usr/bin/hello
        """.write(toFile: cfg, atomically: true, encoding: .utf8)
        let layoutDir = dir + "/layout"
        let built = try TestSupport.kiln(["image", cfg, "--out", layoutDir, "--variant", "standard", "--source-date-epoch", "1700000000"])
        XCTAssertEqual(built.status, 0, built.err)
        let layout = try OCILayout(path: layoutDir)
        let (_, manifest) = try layout.imageManifest(ref: "hello:1.0-r0")
        let config = try JSONDecoder().decode(OCI.ImageConfig.self, from: try layout.readBlob(digest: manifest.config.digest))
        XCTAssertEqual(manifest.layers.count, 1)
        let blob = try layout.blobPath(manifest.layers[0].digest)
        let diffID = config.rootfs.diff_ids[0]
        let layerData = try Data(contentsOf: URL(fileURLWithPath: blob))
        XCTAssertGreaterThanOrEqual(try Gzip.memberRanges(layerData).count, 3, "the layer must span several members to test the framing")
        let entries = try ArchiveReader.entries(data: layerData).map(\.entry.path)

        // GNU gzip: integrity and the uncompressed stream is the diff_id.
        let t = try TestSupport.run("gzip", ["-t", blob])
        XCTAssertEqual(t.status, 0, t.err)
        let zcat = try TestSupport.run("/bin/sh", ["-c", "zcat < '\(blob)' | sha256sum"])
        XCTAssertEqual("sha256:" + zcat.out.prefix(64), diffID, zcat.err)
        // Python's gzip module.
        let py = try TestSupport.run("python3", ["-c", "import gzip,hashlib,sys; print('sha256:'+hashlib.sha256(gzip.open(sys.argv[1]).read()).hexdigest())", blob])
        XCTAssertEqual(py.out.trimmingCharacters(in: .whitespacesAndNewlines), diffID, py.err)
        // libarchive's bsdtar lists every entry.
        let bsd = try TestSupport.run("bsdtar", ["-tzf", blob])
        XCTAssertEqual(bsd.status, 0, bsd.err)
        XCTAssertEqual(bsd.out.split(separator: "\n").map { String($0).hasSuffix("/") ? String($0.dropLast()) : String($0) }, entries)

        // Go: skopeo re-hashes every blob on copy into a second OCI layout, and inspects it.
        let copy = try TestSupport.run("skopeo", ["copy", "oci:\(layoutDir):hello:1.0-r0", "oci:\(dir)/copied:hello"])
        XCTAssertEqual(copy.status, 0, copy.err)
        let inspect = try TestSupport.run("skopeo", ["inspect", "oci:\(dir)/copied:hello"])
        XCTAssertEqual(inspect.status, 0, inspect.err)
        XCTAssertTrue(inspect.out.contains(manifest.layers[0].digest), inspect.out)
        // umoci (Go, pgzip) unpacks the bundle and the raw rootfs; the big file survives intact.
        let unpack = try TestSupport.run("umoci", ["unpack", "--rootless", "--image", "\(layoutDir):hello:1.0-r0", dir + "/bundle"])
        XCTAssertEqual(unpack.status, 0, unpack.err)
        XCTAssertEqual(FileManager.default.contents(atPath: dir + "/bundle/rootfs/usr/share/big.txt"), big)
        let raw = try TestSupport.run("umoci", ["raw", "unpack", "--rootless", "--image", "\(layoutDir):hello:1.0-r0", dir + "/raw"])
        XCTAssertEqual(raw.status, 0, raw.err)
        XCTAssertEqual(FileManager.default.contents(atPath: dir + "/raw/usr/share/big.txt"), big)

        // kiln run unpacks the layer with kiln's own reader and runs the program.
        let run = try TestSupport.kiln(["run", layoutDir + ":hello:1.0-r0"])
        XCTAssertEqual(run.status, 0, run.err)
        XCTAssertTrue(run.out.hasPrefix("hello from a chunked layer"), run.out)
    }

    /// The same tree gives the same layer bytes for 1 and 2 threads and on every run.
    func testLayerBytesIndependentOfThreadsAndRuns() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        var entries: [TarEntry] = [.directory("data")]
        var x: UInt64 = 11
        for i in 0..<40 {
            var d = Data()
            while d.count < 70_000 { x = x &* 6364136223846793005 &+ 1; d.append(contentsOf: "\(i) \(x >> 44)\n".utf8) }
            entries.append(.file("data/f\(i)", d))
        }
        let runs = try [1, 2, 2, 1].map { threads in
            try LayerWriter.write(entries: entries, epoch: 1_700_000_000, blobsDir: dir + "/blobs-\(threads)", threads: threads)
        }
        XCTAssertEqual(Set(runs.map(\.descriptor.digest)).count, 1, "\(runs.map(\.descriptor.digest))")
        XCTAssertEqual(Set(runs.map(\.diffID)).count, 1)
        let blob = try Data(contentsOf: URL(fileURLWithPath: dir + "/blobs-1/" + runs[0].descriptor.digest.dropFirst(7)))
        XCTAssertEqual("sha256:" + (try Digest.sha256Hex(blob)), runs[0].descriptor.digest, "digest is of the bytes written")
        XCTAssertEqual(Int64(blob.count), runs[0].descriptor.size)
        let tar = try Gzip.decompress(blob)
        XCTAssertEqual("sha256:" + (try Digest.sha256Hex(tar)), runs[0].diffID, "diff_id is of the uncompressed tar")
        XCTAssertEqual(Int64(tar.count), runs[0].uncompressedSize)
        XCTAssertGreaterThanOrEqual(try Gzip.memberRanges(blob).count, 2)
    }
}
