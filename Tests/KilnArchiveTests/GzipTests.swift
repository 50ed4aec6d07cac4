import Foundation
import KilnTestSupport
import XCTest
@testable import KilnArchive

final class GzipTests: XCTestCase {
    static func sample(_ n: Int) -> Data {
        var rng = UInt64(42)
        var d = Data(capacity: n)
        let words = ["kiln", "apk", "fips", "layer", "openssl", "tar", "\n", "0123456789"]
        while d.count < n {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            d.append(contentsOf: words[Int(rng >> 61)].utf8)
            if rng & 0xff < 8 { d.append(UInt8(truncatingIfNeeded: rng >> 24)) }
        }
        return d.prefix(n)
    }

    func testDeterministicHeaderAndGunzipAccepts() throws {
        let input = GzipTests.sample(500_000)
        for level in [1, 6, 9] {
            let a = try Gzip.compress(input, level: level)
            let b = try Gzip.compress(input, level: level)
            XCTAssertEqual(a, b)
            XCTAssertEqual(Array(a.prefix(4)), [0x1f, 0x8b, 8, 0], "FLG must be 0: no name, no comment")
            XCTAssertEqual(Array(a[4..<8]), [0, 0, 0, 0], "MTIME must be 0")
            XCTAssertEqual(a[9], 3, "OS must be unix")
            XCTAssertEqual(try Gzip.decompress(a), input)
            let dir = try TestSupport.temporaryDirectory(self)
            try a.write(to: URL(fileURLWithPath: dir + "/x.gz"))
            let t = try TestSupport.run("/usr/bin/gzip", ["-t", dir + "/x.gz"])
            XCTAssertEqual(t.status, 0, t.err)
            let l = try TestSupport.run("/usr/bin/gzip", ["-lvN", dir + "/x.gz"])
            XCTAssertTrue(l.out.contains("\(input.count)"), l.out)
        }
        XCTAssertLessThan(try Gzip.compress(input, level: 9).count, try Gzip.compress(input, level: 1).count)
        XCTAssertThrowsError(try Gzip.compress(input, level: 10))
    }

    func testStreamingSinkEqualsOneShot() throws {
        let input = GzipTests.sample(300_000)
        let sink = DataSink()
        let gz = try GzipSink(sink, level: 6)
        var off = 0
        while off < input.count { let n = min(7777, input.count - off); try gz.write(input[off..<(off + n)]); off += n }
        try gz.close()
        XCTAssertEqual(sink.data, try Gzip.compress(input, level: 6))
    }

    func testMultiMemberDecompressAndRanges() throws {
        let parts = [Data("first member\n".utf8), GzipTests.sample(100_000), Data()]
        let members = try parts.map { try Gzip.compress($0) }
        let joined = members.reduce(Data(), +)
        XCTAssertEqual(try Gzip.decompress(joined), parts.reduce(Data(), +))
        let ranges = try Gzip.memberRanges(joined)
        XCTAssertEqual(ranges.count, 3)
        for (r, m) in zip(ranges, members) { XCTAssertEqual(joined[r], m) }
        // agrees with GNU gzip
        let dir = try TestSupport.temporaryDirectory(self)
        try joined.write(to: URL(fileURLWithPath: dir + "/m.gz"))
        let z = try TestSupport.run("/bin/sh", ["-c", "gzip -dc m.gz > m.out"], cwd: dir)
        XCTAssertEqual(z.status, 0, z.err)
        XCTAssertEqual(FileManager.default.contents(atPath: dir + "/m.out"), parts.reduce(Data(), +))
        // truncated and garbage input fail
        XCTAssertThrowsError(try Gzip.decompress(joined.dropLast(5)))
        XCTAssertThrowsError(try Gzip.decompress(joined + Data("garbage".utf8)))
        XCTAssertThrowsError(try Gzip.decompress(Data()))
    }
}
