import Foundation
import KilnCore
import KilnTestSupport
import XCTest
@testable import KilnArchive

/// Crafted headers that trapped (SIGILL / range trap) before the checked byte reader: each must now
/// be an error naming the archive.
final class TrapTests: XCTestCase {
    func assertCorrupt(_ bytes: [UInt8], dialect: TarStream.Dialect, _ needle: String,
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try TarStream.parse(Data(bytes), context: "evil.tar", dialect: dialect), file: file, line: line) { e in
            XCTAssertTrue("\(e)".contains("evil.tar"), "\(e)", file: file, line: line)
            XCTAssertTrue("\(e)".contains(needle), "\(e)", file: file, line: line)
        }
    }

    func testBase256SizeNearInt64MaxIsAnError() {
        let tar = CraftedTar.header(name: "big", sizeField: CraftedTar.base256NearMax) + CraftedTar.endOfArchive
        assertCorrupt(tar, dialect: .apk, "truncated")
        assertCorrupt(tar, dialect: .posix, "truncated")
        XCTAssertThrowsError(try PaxScan.customRecords(Data(tar), name: "evil.tar"))
    }

    func testSizeFieldMinusOneIsAnError() {
        let tar = CraftedTar.header(name: "neg", sizeField: Array("-1".utf8) + [0]) + CraftedTar.endOfArchive
        assertCorrupt(tar, dialect: .apk, "bad size field")
        assertCorrupt(tar, dialect: .posix, "bad size field")
    }

    func testPaxSizeNearIntMaxIsAnError() {
        let tar = CraftedTar.pax(CraftedTar.record("size", "9223372036854775807"))
            + CraftedTar.file("f", Array("hello".utf8)) + CraftedTar.endOfArchive
        assertCorrupt(tar, dialect: .posix, "truncated")
        // Through the public reader too (PaxScan runs before libarchive).
        XCTAssertThrowsError(try ArchiveReader.entries(data: Data(tar), name: "evil.tar")) { e in
            XCTAssertTrue("\(e)".contains("evil.tar"), "\(e)")
        }
    }

    func testPaxRecordLengthNearIntMaxIsAnError() {
        let tar = CraftedTar.pax("9223372036854775807 path=x\n") + CraftedTar.file("f", []) + CraftedTar.endOfArchive
        assertCorrupt(tar, dialect: .apk, "PAX")
        assertCorrupt(tar, dialect: .posix, "PAX")
    }

    func testWellFormedStreamStillParses() throws {
        let tar = CraftedTar.pax(CraftedTar.record("path", "a/long/name") + CraftedTar.record("X.custom", "1"))
            + CraftedTar.file("short", Array("hi".utf8)) + CraftedTar.endOfArchive
        let r = try TarStream.parse(Data(tar), context: "ok.tar")
        XCTAssertEqual(r.entries.map(\.path), ["a/long/name"])
        XCTAssertEqual(r.entries.first?.pax["X.custom"], "1")
        XCTAssertEqual(r.entries.first?.data, Data("hi".utf8))
        XCTAssertTrue(r.sawEndOfArchive)
    }

    func testByteReaderNeverTraps() {
        let r = ByteReader([1, 2, 3, 4])
        XCTAssertNil(r.range(Int.max, 2))
        XCTAssertNil(r.range(2, Int.max))
        XCTAssertNil(r.range(UInt64.max, 1))
        XCTAssertNil(r.range(-1, 1))
        XCTAssertNil(r.u32(1))
        XCTAssertEqual(r.u32(0), 0x0403_0201)
        XCTAssertNil(ByteReader.roundUp(Int.max - 10, toMultipleOf: 512))
        XCTAssertNil(r.cString(Int64.max, end: 4))
    }
}
