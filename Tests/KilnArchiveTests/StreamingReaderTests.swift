import Foundation
import KilnTestSupport
import XCTest
@testable import KilnArchive

/// `ArchiveReader.forEach` streams layers (several gzip members) entry by entry and refuses one that
/// inflates past the limit as soon as it does; `Gzip.decompress(_:totalLimit:)` caps a whole stream.
final class StreamingReaderTests: XCTestCase {
    func layer(_ entries: [TarEntry], at path: String) throws {
        let gz = try ParallelGzipSink(try FileSink(path: path), level: 1, threads: 2, chunkSize: 64 << 10)
        let w = try TarWriter(sink: gz, options: .init(epoch: 1_700_000_000))
        for e in entries { try w.write(e) }
        try w.finish(); try gz.close()
    }

    func testStreamsTheSameEntriesAsTheInMemoryReader() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        var entries: [TarEntry] = [.directory("d"), .symlink("d/link", to: "f0")]
        for i in 0..<6 { entries.append(.file("d/f\(i)", GzipTests.sample(50_000 * (i + 1)))) }
        try layer(entries, at: dir + "/l.tgz")
        let whole = try ArchiveReader.entries(path: dir + "/l.tgz")
        var seen: [(String, Data?)] = []
        try ArchiveReader.forEach(path: dir + "/l.tgz") { e, read in
            seen.append((e.path, e.path.hasSuffix("f2") || e.path.hasSuffix("f5") ? try read() : nil))
        }
        XCTAssertEqual(seen.map(\.0), whole.map(\.entry.path))
        for (i, (p, d)) in seen.enumerated() where d != nil {
            XCTAssertEqual(d, whole[i].data, p)
        }
        XCTAssertEqual(seen.compactMap(\.1).count, 2)
    }

    func testInflationBeyondTheLimitIsRefusedNamingTheEntry() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try layer([.file("small", Data("ok".utf8)), .file("bomb", Data(count: 8 << 20))], at: dir + "/bomb.tgz")
        XCTAssertLessThan(try FileManager.default.attributesOfItem(atPath: dir + "/bomb.tgz")[.size] as! Int, 200_000)
        for readIt in [false, true] {
            XCTAssertThrowsError(try ArchiveReader.forEach(path: dir + "/bomb.tgz", name: "layer x", maxInflatedBytes: 1 << 20) { _, read in
                if readIt { _ = try read() }
            }) { e in
                XCTAssertEqual(e as? ArchiveError, .tooLarge(archive: "layer x", entry: "bomb", limit: 1 << 20))
                XCTAssertTrue("\(e)".contains("decompression bomb"), "\(e)")
            }
        }
        XCTAssertNoThrow(try ArchiveReader.forEach(path: dir + "/bomb.tgz", maxInflatedBytes: 16 << 20) { _, _ in })
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/bomb.tgz"))
        XCTAssertGreaterThan(try Gzip.memberRanges(data).count, 100, "many members, each under any per-member limit")
        XCTAssertThrowsError(try Gzip.decompress(data, totalLimit: 1 << 20)) { e in
            XCTAssertTrue("\(e)".contains("KILN_MAX_INFLATED_LAYER_BYTES"), "\(e)")
        }
        XCTAssertEqual(try Gzip.decompress(data, totalLimit: 16 << 20).count, try Gzip.decompress(data).count)
    }
}
