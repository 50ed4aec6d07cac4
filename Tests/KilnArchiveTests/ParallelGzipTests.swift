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

    /// scripts/bench-gzip.sh [TREE] (or KILN_BENCH=1 KILN_BENCH_TREE=DIR swift test --filter
    /// ParallelGzipTests/testBenchmark): `tar | gzip -6` vs kiln's tar writer + ParallelGzipSink, wall
    /// and CPU seconds. Byte-identical output across thread counts is asserted too.
    func testBenchmark() throws {
        guard ProcessInfo.processInfo.environment["KILN_BENCH"] == "1" else { throw XCTSkip("set KILN_BENCH=1") }
        let root = ProcessInfo.processInfo.environment["KILN_BENCH_TREE"] ?? "/usr/lib/gcc"
        let dir = try TestSupport.temporaryDirectory(self)
        func cpu(_ who: __rusage_who) -> Double {
            var u = rusage(); getrusage(Int32(who.rawValue), &u)
            return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
        }
        func measure(_ who: __rusage_who, _ f: () throws -> Void) rethrows -> (wall: Double, cpu: Double) {
            let t = Date(), c = cpu(who); try f(); return (Date().timeIntervalSince(t), cpu(who) - c)
        }
        func size(_ p: String) -> Int { ((try? FileManager.default.attributesOfItem(atPath: p))?[.size] as? NSNumber)?.intValue ?? 0 }
        let entries = try TreeScanner.entries(root: root)
        var tarBytes: Int64 = 0
        let tTar = try measure(RUSAGE_SELF) {
            let w = try TarWriter(sink: DatalessSink(), options: .init(epoch: 0))
            for e in entries { try w.write(e) }
            try w.finish(); tarBytes = w.bytesWritten
        }
        let gnu = try measure(RUSAGE_CHILDREN) {
            let r = try TestSupport.run("/bin/sh", ["-c", "tar -C '\(root)' --sort=name -cf - . | gzip -6 > '\(dir)/gnu.tgz'"])
            XCTAssertEqual(r.status, 0, r.err)
        }
        var lines = [String(format: "tar | gzip -6                %7.2fs wall %7.2fs cpu  %d bytes", gnu.wall, gnu.cpu, size(dir + "/gnu.tgz"))]
        var outputs: [Data] = []
        for threads in Set([1, 2, ProcessInfo.processInfo.activeProcessorCount]).sorted() {
            let out = dir + "/k\(threads).tgz"
            let t = try measure(RUSAGE_SELF) {
                let gz = try ParallelGzipSink(try FileSink(path: out), level: 6, threads: threads)
                let w = try TarWriter(sink: gz, options: .init(epoch: 0))
                for e in entries { try w.write(e) }
                try w.finish(); try gz.close()
            }
            lines.append(String(format: "kiln tar + gzip -6 threads=%d %7.2fs wall %7.2fs cpu  %d bytes  speed-up %.2fx",
                                threads, t.wall, t.cpu, size(out), gnu.wall / t.wall))
            outputs.append(try Data(contentsOf: URL(fileURLWithPath: out)))
            try? FileManager.default.removeItem(atPath: out)
        }
        XCTAssertEqual(Set(outputs).count, 1, "output differs between thread counts")
        print("bench: tree \(root): \(entries.count) entries, tar \(tarBytes) bytes (tar writer alone \(String(format: "%.2fs", tTar.wall)))")
        var load = [Double](repeating: 0, count: 3); getloadavg(&load, 3)
        print("bench: \(ProcessInfo.processInfo.activeProcessorCount) cores, load average \(load.map { String(format: "%.1f", $0) }.joined(separator: " "))")
        for l in lines { print("bench: " + l) }
    }
}
