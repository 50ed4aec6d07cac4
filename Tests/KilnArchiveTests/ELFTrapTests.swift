import Foundation
import XCTest
@testable import KilnArchive

/// ELF headers with offsets near the maximum: both former readers trapped on them (KilnAPK's on
/// `e_phoff + i * e_phentsize`, KilnRepro's on `Int(e_shoff)`); the merged reader returns nil.
final class ELFTrapTests: XCTestCase {
    /// A 64-byte little-endian ELF64 header with the given table fields.
    func header(phoff: UInt64 = 0, phnum: UInt16 = 0, shoff: UInt64 = 0, shnum: UInt16 = 0, shstrndx: UInt16 = 0) -> Data {
        var b = [UInt8](repeating: 0, count: 64)
        b[0...3] = [0x7f, 0x45, 0x4c, 0x46]; b[4] = 2; b[5] = 1; b[6] = 1
        b[16] = 3                                     // ET_DYN
        func put(_ o: Int, _ v: UInt64, _ n: Int) { for i in 0..<n { b[o + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) } }
        put(32, phoff, 8); put(54, 56, 2); put(56, UInt64(phnum), 2)
        put(0x28, shoff, 8); put(0x3A, 64, 2); put(0x3C, UInt64(shnum), 2); put(0x3E, UInt64(shstrndx), 2)
        return Data(b)
    }

    func testProgramHeaderOffsetNearIntMax() {
        let d = header(phoff: UInt64(Int.max) - 8, phnum: 4)
        XCTAssertNil(ELFInfo.parse(d))
        XCTAssertNil(ELFFile(d)?.programHeaders())
    }

    func testProgramHeaderOffsetAboveIntMax() {
        XCTAssertNil(ELFInfo.parse(header(phoff: UInt64.max - 8, phnum: 4)))
    }

    func testSectionHeaderOffsetAllOnes() {
        let d = header(shoff: UInt64.max, shnum: 3, shstrndx: 1)
        XCTAssertNotNil(ELFFile(d))
        XCTAssertNil(ELFFile(d)?.sectionHeaders())
        let near = header(shoff: UInt64(Int.max) - 10, shnum: 3, shstrndx: 1)
        XCTAssertNil(ELFFile(near)?.sectionHeaders())
    }

    func testSegmentAndSectionSizesNearMax() {
        // One PT_INTERP program header right after the ELF header, offset+size overflowing.
        var d = header(phoff: 64, phnum: 1)
        var ph = [UInt8](repeating: 0, count: 56)
        ph[0] = 3
        for i in 0..<8 { ph[8 + i] = 0xff; ph[32 + i] = 0xff }
        ph[15] = 0x7f; ph[39] = 0x7f
        d += Data(ph)
        XCTAssertNotNil(ELFInfo.parse(d))
        XCTAssertNil(ELFInfo.parse(d)?.interpreter)
        // A section-name table whose offset + size overflows UInt64.
        let f = ELFFile(header())!
        let table = ELFFile.SectionHeader(nameOffset: 0, type: 3, offset: UInt64.max - 1, size: UInt64.max)
        XCTAssertEqual(f.name(at: UInt64.max, in: table), "")
    }
}
