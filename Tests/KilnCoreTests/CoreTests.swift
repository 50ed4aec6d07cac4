import Foundation
import XCTest
@testable import KilnCore

final class AtomicFileTests: XCTestCase {
    var dir: String = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "kiln-core-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    private func entries() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: dir).sorted() }

    func testWriteCreatesParentsAppliesModeAndLeavesNoTemporary() throws {
        let path = dir + "/a/b/file.txt"
        try AtomicFile.write("hello\n", to: path, mode: 0o600)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "hello\n")
        let attrs = try FileManager.default.attributesOfItem(atPath: path)
        XCTAssertEqual((attrs[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir + "/a/b"), ["file.txt"])
        try AtomicFile.write("second\n", to: path)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "second\n")
    }

    func testProduceRemovesTheTemporaryWhenTheBodyFailsAndKeepsTheOldFile() throws {
        let path = dir + "/index.tar.gz"
        try AtomicFile.write("old", to: path)
        struct Boom: Error {}
        XCTAssertThrowsError(try AtomicFile.produce(path) { tmp in
            try "half-written".write(toFile: tmp, atomically: false, encoding: .utf8)
            throw Boom()
        })
        XCTAssertEqual(try entries(), ["index.tar.gz"], "no temporary file may be left behind")
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "old")
        let n = try AtomicFile.produce(path) { tmp -> Int in
            try "new".write(toFile: tmp, atomically: false, encoding: .utf8); return 3
        }
        XCTAssertEqual(n, 3)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "new")
        XCTAssertEqual(try entries(), ["index.tar.gz"])
    }

    func testTemporaryPathIsAHiddenSiblingAndUnique() {
        let a = AtomicFile.temporaryPath(for: "/x/y/pkg.apk"), b = AtomicFile.temporaryPath(for: "/x/y/pkg.apk")
        XCTAssertTrue(a.hasPrefix("/x/y/.pkg.apk.tmp-"), a)
        XCTAssertNotEqual(a, b)
    }

    func testReplaceDirectorySwapsWholeTreesAndKeepsTheOldOneOnFailure() throws {
        let layout = dir + "/layout"
        try AtomicFile.replaceDirectory(layout) { tmp in try AtomicFile.write("1", to: tmp + "/index.json") }
        XCTAssertEqual(try String(contentsOfFile: layout + "/index.json", encoding: .utf8), "1")
        struct Boom: Error {}
        XCTAssertThrowsError(try AtomicFile.replaceDirectory(layout) { tmp in
            try AtomicFile.write("2", to: tmp + "/index.json"); throw Boom()
        })
        XCTAssertEqual(try String(contentsOfFile: layout + "/index.json", encoding: .utf8), "1")
        XCTAssertEqual(try entries(), ["layout"])
        try AtomicFile.replaceDirectory(layout) { tmp in try AtomicFile.write("3", to: tmp + "/other") }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: layout), ["other"])
        XCTAssertEqual(try entries(), ["layout"], "the old tree is removed after the swap")
    }

    func testRenameErrorNamesBothPaths() {
        XCTAssertThrowsError(try AtomicFile.rename(dir + "/missing", to: dir + "/there")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(self.dir + "/missing") && text.contains(self.dir + "/there"), text)
        }
    }
}

final class EpochAndLocationTests: XCTestCase {
    func testRFC3339() {
        XCTAssertEqual(SourceDateEpoch.rfc3339(0), "1970-01-01T00:00:00Z")
        XCTAssertEqual(SourceDateEpoch.rfc3339(1_700_000_000), "2023-11-14T22:13:20Z")
        XCTAssertEqual(SourceDateEpoch.rfc3339(951_782_400), "2000-02-29T00:00:00Z")
    }

    func testFromEnvironmentAcceptsOnlyNonNegativeIntegers() {
        let saved = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"]
        defer { if let saved { setenv("SOURCE_DATE_EPOCH", saved, 1) } else { unsetenv("SOURCE_DATE_EPOCH") } }
        setenv("SOURCE_DATE_EPOCH", "1700000000", 1)
        XCTAssertEqual(SourceDateEpoch.fromEnvironment(), 1_700_000_000)
        for bad in ["-5", "yesterday", "", "1.5"] {
            setenv("SOURCE_DATE_EPOCH", bad, 1)
            XCTAssertNil(SourceDateEpoch.fromEnvironment(), bad)
        }
        unsetenv("SOURCE_DATE_EPOCH")
        XCTAssertNil(SourceDateEpoch.fromEnvironment())
    }

    func testSourceLocationDescription() {
        XCTAssertEqual(SourceLocation(file: "r.yaml", line: 3, column: 7).description, "r.yaml:3:7")
        XCTAssertEqual(SourceLocation(file: "r.yaml", line: 3).description, "r.yaml:3")
        XCTAssertEqual(SourceLocation(file: "r.yaml").description, "r.yaml")
    }

    func testProgressElapsedFormat() {
        XCTAssertEqual(Progress.format(1.25), "1.2s")
        XCTAssertEqual(Progress.format(59.94), "59.9s")
        XCTAssertEqual(Progress.format(61), "1m01s")
        XCTAssertEqual(Progress.format(3725), "62m05s")
    }
}

final class SubprocessTests: XCTestCase {
    func testCapturesBothStreamsAndStatus() throws {
        let r = try Subprocess("/bin/sh", ["-c", "echo out; echo err >&2; exit 3"]).run()
        XCTAssertEqual(r.status, 3)
        XCTAssertEqual(r.stdoutString, "out\n")
        XCTAssertEqual(r.stderrString, "err\n")
        XCTAssertFalse(r.succeeded)
    }

    func testEnvironmentIsExactlyWhatIsGivenAndStdinIsFed() throws {
        let r = try Subprocess("/bin/sh", ["-c", "env | sort; cat"], environment: ["ONLY": "this"],
                               stdin: Data("from stdin\n".utf8)).check()
        let lines = r.stdoutString.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains("ONLY=this"), r.stdoutString)
        XCTAssertFalse(lines.contains { $0.hasPrefix("HOME=") }, "the caller's environment leaked: \(r.stdoutString)")
        XCTAssertEqual(lines.last, "from stdin")
    }

    func testLargeOutputOnBothStreamsDoesNotDeadlock() throws {
        let r = try Subprocess("/bin/sh", ["-c", "head -c 1000000 /dev/zero; head -c 1000000 /dev/zero >&2"]).check()
        XCTAssertEqual(r.stdout.count, 1_000_000)
        XCTAssertEqual(r.stderr.count, 1_000_000)
    }

    func testSignalDeathIsReportedAs128PlusSignal() throws {
        let r = try Subprocess("/bin/sh", ["-c", "kill -TERM $$"]).run()
        XCTAssertEqual(r.status, 128 + SIGTERM)
    }

    func testCheckNamesTheCommandAndTheLastStderrLines() {
        XCTAssertThrowsError(try Subprocess("/bin/sh", ["-c", "echo 'no such recipe' >&2; exit 2"]).check()) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("exit 2") && text.contains("no such recipe") && text.contains("/bin/sh"), text)
        }
    }

    func testMissingProgramSaysWhatToDo() {
        XCTAssertThrowsError(try Subprocess("kiln-no-such-tool").run()) { error in
            XCTAssertTrue("\(error)".contains("make deps"), "\(error)")
        }
        XCTAssertNil(Subprocess.which("kiln-no-such-tool"))
        XCTAssertEqual(Subprocess.which("/bin/sh"), "/bin/sh")
    }

    func testLogFileGetsAppendedOutput() throws {
        let log = NSTemporaryDirectory() + "kiln-core-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        try Subprocess("/bin/sh", ["-c", "echo one"], logFile: log).check()
        try Subprocess("/bin/sh", ["-c", "echo two >&2"], logFile: log).check()
        XCTAssertEqual(try String(contentsOfFile: log, encoding: .utf8), "one\ntwo\n")
    }
}
