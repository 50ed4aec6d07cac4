import Foundation
import KilnCrypto
import KilnTestSupport
import XCTest
@testable import KilnArchive

final class ParallelGzipTests: XCTestCase {
    func testSameBytesForAnyThreadCountAndValidGzip() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        for size in [0, 1, 131_072, 131_072 * 3, 1_000_003] {
            let input = GzipTests.sample(size)
            let one = try Gzip.compressParallel(input, level: 6, threads: 1)
            XCTAssertEqual(try Gzip.compressParallel(input, level: 6, threads: 2), one, "size \(size)")
            XCTAssertEqual(try Gzip.compressParallel(input, level: 6, threads: 4), one, "size \(size)")
            XCTAssertEqual(try Gzip.decompress(one), input)
            XCTAssertEqual(try Gzip.memberRanges(one).count, 1, "must be one gzip member")
            XCTAssertEqual(Array(one.prefix(10)), [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3])
            try one.write(to: URL(fileURLWithPath: dir + "/p.gz"))
            let t = try TestSupport.run("/usr/bin/gzip", ["-t", dir + "/p.gz"])
            XCTAssertEqual(t.status, 0, "gzip -t rejects size \(size): \(t.err)")
        }
    }

    func testStreamingSinkMatchesOneShotAndCompresses() throws {
        let input = GzipTests.sample(700_000)
        let sink = DataSink()
        let gz = try ParallelGzipSink(sink, level: 9, threads: 3)
        var off = 0, step = 1
        while off < input.count { let n = min(step, input.count - off); try gz.write(input[off..<(off + n)]); off += n; step = step * 3 % 100_003 + 1 }
        try gz.close()
        XCTAssertEqual(sink.data, try Gzip.compressParallel(input, level: 9, threads: 1))
        XCTAssertEqual(sink.data[8], 2, "XFL for level 9")
        let serial = try Gzip.compress(input, level: 9)
        XCTAssertLessThan(Double(sink.data.count), Double(serial.count) * 1.05, "parallel output much larger than serial")
    }

    func testDigestingSinkHashesWhatPassesThrough() throws {
        let input = GzipTests.sample(200_000)
        let out = DataSink()
        let d = try DigestingSink(out, algorithms: [.sha256, .sha1])
        try d.write(input.prefix(1000)); try d.write(input.dropFirst(1000))
        XCTAssertEqual(out.data, input)
        XCTAssertEqual(d.byteCount, Int64(input.count))
        XCTAssertEqual(try d.digest(.sha256), try Digest.hash(.sha256, input))
        XCTAssertEqual(try d.digest(.sha1), try Digest.hash(.sha1, input))
        XCTAssertThrowsError(try d.write(Data([1])))
        XCTAssertThrowsError(try d.digest(.sha512))
        let dir = try TestSupport.temporaryDirectory(self)
        try input.write(to: URL(fileURLWithPath: dir + "/f"))
        let r = try TestSupport.run("/usr/bin/sha256sum", [dir + "/f"])
        XCTAssertEqual(r.out.prefix(64), Substring(try d.digest(.sha256).hexString))
    }

    /// KILN_BENCH=1 swift test --filter ParallelGzipTests/testBenchmark : tar|gzip -6 vs kiln.
    func testBenchmark() throws {
        guard ProcessInfo.processInfo.environment["KILN_BENCH"] == "1" else { throw XCTSkip("set KILN_BENCH=1") }
        let root = ProcessInfo.processInfo.environment["KILN_BENCH_TREE"] ?? "/usr/lib"
        let dir = try TestSupport.temporaryDirectory(self)
        func time(_ f: () throws -> Void) rethrows -> Double { let t = Date(); try f(); return Date().timeIntervalSince(t) }
        let entries = try TreeScanner.entries(root: root)
        let tarOnly = DataSink()
        var tarBytes = 0
        let tTar = try time {
            let w = try TarWriter(sink: CountingSink(DatalessSink()), options: .init(epoch: 0))
            for e in entries { try w.write(e) }
            try w.finish(); tarBytes = Int(w.bytesWritten)
        }
        _ = tarOnly
        var results: [String] = []
        let tGNU = try time {
            let r = try TestSupport.run("/bin/sh", ["-c", "tar -C '\(root)' --sort=name -cf - . | gzip -6 > '\(dir)/gnu.tgz'"])
            XCTAssertEqual(r.status, 0, r.err)
        }
        let gnuSize = (try FileManager.default.attributesOfItem(atPath: dir + "/gnu.tgz")[.size] as? NSNumber)?.intValue ?? 0
        results.append(String(format: "tar|gzip -6           %6.2fs  %d bytes", tGNU, gnuSize))
        for threads in Set([1, 2, ProcessInfo.processInfo.activeProcessorCount]).sorted() {
            var size = 0
            let t = try time {
                let file = try FileSink(path: dir + "/k\(threads).tgz")
                let gz = try ParallelGzipSink(file, level: 6, threads: threads)
                let w = try TarWriter(sink: gz, options: .init(epoch: 0))
                for e in entries { try w.write(e) }
                try w.finish(); try gz.close()
                size = (try FileManager.default.attributesOfItem(atPath: dir + "/k\(threads).tgz")[.size] as? NSNumber)?.intValue ?? 0
            }
            results.append(String(format: "kiln parallel gzip -6 threads=%d %6.2fs  %d bytes  speed-up %.2fx", threads, t, size, tGNU / t))
        }
        print("bench: tree \(root): \(entries.count) entries, tar \(tarBytes) bytes (tar alone \(String(format: "%.2fs", tTar)))")
        for r in results { print("bench: " + r) }
    }
}
