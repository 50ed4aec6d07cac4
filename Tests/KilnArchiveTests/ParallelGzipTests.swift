import Foundation
import KilnCrypto
import KilnTestSupport
import XCTest
@testable import KilnArchive

final class ParallelGzipTests: XCTestCase {
    /// Chunked libdeflate gzip: the same bytes for 1, 2 and 4 threads; one complete member per chunk
    /// (the last may be short; empty input is one empty member); GNU gzip and Python's gzip read it.
    func testSameBytesForAnyThreadCountOneMemberPerChunk() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let chunk = 64 << 10
        for size in [0, 1, chunk - 1, chunk, chunk + 1, 3 * chunk + 777] {
            let input = Data(GzipTests.sample(size).prefix(size))
            let one = try Gzip.compressParallel(input, level: 6, threads: 1, chunkSize: chunk)
            XCTAssertEqual(try Gzip.compressParallel(input, level: 6, threads: 2, chunkSize: chunk), one, "size \(size)")
            XCTAssertEqual(try Gzip.compressParallel(input, level: 6, threads: 4, chunkSize: chunk), one, "size \(size)")
            XCTAssertEqual(try Gzip.decompress(one), input)
            let members = try Gzip.memberRanges(one)
            XCTAssertEqual(members.count, max(1, (size + chunk - 1) / chunk), "size \(size)")
            for m in members {
                XCTAssertEqual(Array(one[m].prefix(10)), [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3], "no name, MTIME 0, OS unix")
                XCTAssertLessThanOrEqual(try Gzip.decompress(one.subdata(in: m)).count, chunk)
            }
            try one.write(to: URL(fileURLWithPath: dir + "/p.gz"))
            let t = try TestSupport.run("/usr/bin/gzip", ["-t", dir + "/p.gz"])
            XCTAssertEqual(t.status, 0, "gzip -t rejects size \(size): \(t.err)")
            let py = try TestSupport.run("/usr/bin/python3", ["-c", "import gzip,hashlib,sys; print(hashlib.sha256(gzip.open(sys.argv[1]).read()).hexdigest())", dir + "/p.gz"])
            XCTAssertEqual(py.out.trimmingCharacters(in: .whitespacesAndNewlines), try Digest.hash(.sha256, input).hexString, "python gzip, size \(size): \(py.err)")
        }
    }

    func testStreamingSinkMatchesOneShotLevelsAndSize() throws {
        let input = GzipTests.sample(2_700_000)
        let sink = DataSink()
        let gz = try ParallelGzipSink(sink, level: 9, threads: 3)
        var off = 0, step = 1
        while off < input.count { let n = min(step, input.count - off); try gz.write(input[off..<(off + n)]); off += n; step = step * 3 % 100_003 + 1 }
        try gz.close()
        XCTAssertEqual(sink.data, try Gzip.compressParallel(input, level: 9, threads: 1))
        XCTAssertEqual(try Gzip.memberRanges(sink.data).count, 3, "1 MiB chunks")
        XCTAssertEqual(sink.data[8], 2, "XFL for level 9")
        XCTAssertEqual(try Gzip.compressParallel(input, level: 1, threads: 2)[8], 4, "XFL for level 1")
        // Three 1 MiB chunks cost little against one 4 MiB chunk (one member, one window).
        let chunked = try Gzip.compressParallel(input, level: 6, threads: 2).count
        let whole = try Gzip.compressParallel(input, level: 6, threads: 2, chunkSize: 4 << 20)
        XCTAssertEqual(try Gzip.memberRanges(whole).count, 1)
        XCTAssertLessThan(Double(chunked), Double(whole.count) * 1.02, "chunking costs more than 2 %")
        XCTAssertEqual(try Gzip.decompress(try Gzip.compressParallel(input, level: 0, threads: 2)), input, "level 0 stores")
        for bad in [-1, 13] {
            XCTAssertThrowsError(try ParallelGzipSink(DataSink(), level: bad)) { e in
                XCTAssertTrue("\(e)".contains("compression level \(bad) is not in 0...12"), "\(e)")
            }
        }
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
}
