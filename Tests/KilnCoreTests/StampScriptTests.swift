import Foundation
import KilnTestSupport
import XCTest

/// scripts/stamp.sh, the content-keyed stamps of `make demo`'s demo-only steps: a step runs once, a rerun
/// with the same input bytes (even rewritten, new mtime) prints the stored output marked as reused
/// without running; changed inputs, a changed output and a run after a failure run the step again.
final class StampScriptTests: XCTestCase {
    func testStepsRunByContentAndAFailureIsNeverReused() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir + "/tree/sub", withIntermediateDirectories: true)
        try "a\n".write(toFile: dir + "/tree/sub/a", atomically: true, encoding: .utf8)
        try "input\n".write(toFile: dir + "/input", atomically: true, encoding: .utf8)
        try "0\n".write(toFile: dir + "/count", atomically: true, encoding: .utf8)
        // The step counts its runs, writes its output file, and fails while `fail` exists.
        let step = "n=$(cat count); echo $((n + 1)) > count; [ -f fail ] && { echo failing; exit 3; }; echo run $((n + 1)) > out.txt; echo step output"
        func stamp() throws -> (status: Int32, out: String) {
            let r = try TestSupport.run("/bin/bash", [TestSupport.packageRoot + "/scripts/stamp.sh", "demo-step", dir + "/stamps",
                                                      "--file", dir + "/input", "--tree", dir + "/tree", "--output", dir + "/out.txt",
                                                      "--", "sh", "-c", step], cwd: dir)
            return (r.status, r.out + r.err)
        }
        func runs() throws -> String { try String(contentsOfFile: dir + "/count", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) }

        var r = try stamp()
        XCTAssertEqual(r.status, 0, r.out)
        XCTAssertEqual(try runs(), "1")
        r = try stamp()
        XCTAssertEqual(r.status, 0, r.out)
        XCTAssertEqual(try runs(), "1", "unchanged inputs: not run again")
        XCTAssertTrue(r.out.contains("== demo-step: unchanged since") && r.out.contains("reused") && r.out.contains("step output"), r.out)

        Thread.sleep(forTimeInterval: 0.02)
        try "input\n".write(toFile: dir + "/input", atomically: true, encoding: .utf8)   // same bytes, new inode and mtime
        XCTAssertEqual(try stamp().status, 0)
        XCTAssertEqual(try runs(), "1", "the content decides, not the mtime")

        try "b\n".write(toFile: dir + "/tree/sub/a", atomically: true, encoding: .utf8)
        XCTAssertEqual(try stamp().status, 0)
        XCTAssertEqual(try runs(), "2", "a changed file in a tree runs the step")

        try "tampered\n".write(toFile: dir + "/out.txt", atomically: true, encoding: .utf8)
        XCTAssertEqual(try stamp().status, 0)
        XCTAssertEqual(try runs(), "3", "an output that changed since the run is not trusted")

        // A failure: exit status passed on, nothing recorded — back to the last good inputs it runs again.
        fm.createFile(atPath: dir + "/fail", contents: Data())
        try "other\n".write(toFile: dir + "/input", atomically: true, encoding: .utf8)
        r = try stamp()
        XCTAssertEqual(r.status, 3, r.out)
        try fm.removeItem(atPath: dir + "/fail")
        try "input\n".write(toFile: dir + "/input", atomically: true, encoding: .utf8)   // the inputs of the last success
        XCTAssertEqual(try stamp().status, 0)
        XCTAssertEqual(try runs(), "5", "after a failed run the step runs again, even with inputs a success once had")
        XCTAssertTrue(try stamp().out.contains("reused"))
        XCTAssertEqual(try runs(), "5", "and is reused once it succeeded")
    }
}
