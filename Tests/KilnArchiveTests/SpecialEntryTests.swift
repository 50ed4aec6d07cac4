import Foundation
import KilnArchive
import KilnCore
import KilnTestSupport
import XCTest

/// Reading an archive names the archive, the entry and what kind of special file it refused.
final class SpecialEntryTests: XCTestCase {
    func testAFifoIsRefusedByKindNamingArchiveAndEntry() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try FileManager.default.createDirectory(atPath: dir + "/t", withIntermediateDirectories: true)
        XCTAssertEqual(mkfifo(dir + "/t/pipe", 0o644), 0)
        try Subprocess("tar", ["-cf", dir + "/a.tar", "-C", dir + "/t", "pipe"]).check()
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/a.tar"))
        XCTAssertThrowsError(try ArchiveReader.entries(data: data, name: "layer sha256:abc")) { e in
            let s = "\(e)"
            XCTAssertTrue(s.contains("layer sha256:abc") && s.contains("pipe") && s.contains("a fifo"), s)
            XCTAssertFalse(s.contains("<memory>"), s)
        }
    }
}
