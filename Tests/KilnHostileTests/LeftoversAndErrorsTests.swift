import Foundation
import KilnCore
import XCTest

/// What a killed run leaves behind is cleaned by the next one; edge errors are one clear line.
final class LeftoversAndErrorsTests: XCTestCase {
    /// A pid that belonged to a process which has exited.
    static func deadPID() throws -> pid_t {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run(); p.waitUntilExit()
        return p.processIdentifier
    }

    func testStaleTemporariesOfKilledRunsAreRemovedAndLiveOnesKept() throws {
        let p = try Playground(self)
        let repo = "\(p.work)/repo/x86_64"
        try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
        let dead = try Self.deadPID(), live = getpid()
        let stale = [".x-1.0-r0.apk.tmp-\(dead)-123", ".x-1.0-r0.apk.tmp-\(dead)-9.data", ".APKINDEX.tar.gz.tmp-\(dead)-77"]
        let kept = [".y-1.0-r0.apk.tmp-\(live)-5", "notes.tmp-\(dead)-1", ".APKINDEX.lock"]
        for n in stale + kept { try p.write("repo/x86_64/\(n)", String(repeating: "partial", count: 100)) }
        try FileManager.default.createDirectory(atPath: "\(repo)/.tree.tmp-\(dead)-4.old/sub", withIntermediateDirectories: true)
        let keygen = try p.kiln(["keygen", "--out", "k", "--bits", "2048"])
        XCTAssertEqual(keygen.status, 0, keygen.err)
        let r = try p.kiln(["index", "repo/x86_64", "--signing-key", "k.rsa"])
        XCTAssertEqual(r.status, 0, r.err)
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: repo))
        for n in stale + [".tree.tmp-\(dead)-4.old"] { XCTAssertFalse(left.contains(n), "\(n) was not cleaned") }
        for n in kept { XCTAssertTrue(left.contains(n), "\(n) of a live process (or not a kiln temporary) was removed") }
        XCTAssertEqual(AtomicFile.temporaryOwner(".a.apk.tmp-42-7"), 42)
        XCTAssertNil(AtomicFile.temporaryOwner("a.apk.tmp-42-7"))
        XCTAssertNil(AtomicFile.temporaryOwner(".a.apk.tmp-x-7"))
    }

    func testIndexOfAMissingDirectoryOrAFileIsRefused() throws {
        let p = try Playground(self)
        try p.refuses(["index", "nosuch/x86_64"], mentions: ["nosuch/x86_64", "no such repository directory"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(p.work)/nosuch"), "kiln index created the directory")
        try p.write("afile", "x")
        try p.refuses(["index", "afile"], mentions: ["afile", "not a directory"])
    }

    func testKeyPathsAndWeakKeysGiveOneClearLine() throws {
        let p = try Playground(self)
        try FileManager.default.createDirectory(atPath: "\(p.work)/keydir", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(p.work)/repo", withIntermediateDirectories: true)
        try p.write("cfg.yaml", "contents:\n  packages: [x]\n")
        for args in [["index", "repo", "--signing-key", "keydir"], ["image", "cfg.yaml", "--sign-key", "keydir"]] {
            try p.refuses(args, mentions: ["keydir", "a directory"])
            XCTAssertFalse(try p.kiln(args).err.contains("NSCocoaErrorDomain"))
        }
        let weak = "\(p.work)/weak.rsa"
        let g = try Subprocess("openssl", ["genrsa", "-out", weak, "1024"]).run()
        XCTAssertTrue(g.succeeded, g.stderrString)
        try p.refuses(["index", "repo", "--signing-key", "weak.rsa"], mentions: ["RSA-1024", "at least 2048 bits"])
        XCTAssertFalse(try p.kiln(["index", "repo", "--signing-key", "weak.rsa"]).err.contains("in FIPS mode"),
                       "the refusal of RSA-1024 says FIPS mode while FIPS mode is off")
    }
}
