import Foundation
import KilnBuild
import KilnCore
import KilnCrypto
import KilnTestSupport
import XCTest

/// Toolchain drift (ToolchainBootstrap.swift) against an archive the test controls: drift is reported
/// and handled by default, refused with `.frozen`, and a frozen root is recreated offline from the
/// `.deb` files the source cache keeps.
final class ToolchainDriftTests: XCTestCase {
    final class Lines: @unchecked Sendable {
        var all: [String] = []
        let lock = NSLock()
        func add(_ s: String) { lock.lock(); all.append(s); lock.unlock() }
        var text: String { lock.lock(); defer { lock.unlock() }; return all.joined(separator: "\n") }
    }

    struct Machine {
        var out: String
        var lines = Lines()
        func bootstrap(_ lock: String, _ archive: FakeDebianArchive, _ mode: LockMode, cache: String? = nil) throws -> Toolchain {
            try ToolchainBootstrap(lockPath: lock, outDir: out, sourceCache: cache.map(SourceCache.init(root:)), mode: mode,
                                   archive: archive, progress: Progress(sink: { [lines] in lines.add($0) })).ensure()
        }
    }

    var tmp = ""
    var lockPath: String { tmp + "/bookworm.lock" }

    override func setUpWithError() throws {
        tmp = try TestSupport.temporaryDirectory(self)
    }

    /// Pins a lock against an archive publishing a=1.0, b=2.0 (and libssl3, purged), then moves a to 1.1.
    func makeLockThenMoveArchive() throws -> (FakeDebianArchive, first: Machine, lockDigest: String) {
        let archive = FakeDebianArchive(published: ["pkg-a": "1.0", "pkg-b": "2.0", "libssl3": "3.0.1"], pool: tmp + "/pool")
        let first = Machine(out: tmp + "/first")
        _ = try first.bootstrap(lockPath, archive, .update)
        let (locked, digest) = try DebianToolchain.load(lockPath: lockPath)
        XCTAssertEqual(locked.packages["pkg-a"], "1.0 amd64")
        XCTAssertEqual(locked.packages["libssl3"], "3.0.1 amd64", "purged packages are locked too (a frozen root needs their .deb)")
        XCTAssertEqual(locked.digests["pkg-a"], try SourceCache.sha256(of: try archive.deb("pkg-a", "1.0")))
        archive.published["pkg-a"] = "1.1"   // Debian replaced it: 1.0 is gone from the archive
        return (archive, first, digest)
    }

    func testDriftIsReportedAndTheRootIsIdentifiedByTheResolvedLock() throws {
        let (archive, _, committed) = try makeLockThenMoveArchive()
        let fresh = Machine(out: tmp + "/fresh")
        let before = archive.bootstraps
        let t = try fresh.bootstrap(lockPath, archive, .resolve)
        XCTAssertEqual(archive.bootstraps, before + 1)
        XCTAssertTrue(fresh.lines.text.contains("pkg-a") && fresh.lines.text.contains("1.0 amd64") && fresh.lines.text.contains("1.1 amd64"),
                      fresh.lines.text)
        XCTAssertFalse(fresh.lines.text.contains("pkg-b:"), "only what moved is in the table")
        XCTAssertNotEqual(t.lockDigest, committed, "the root's identity is the resolved lock, not the committed file")
        let resolved = try String(contentsOfFile: (t.rootPath as NSString).deletingLastPathComponent + "/kiln-toolchain.lock", encoding: .utf8)
        XCTAssertEqual(try Digest.sha256Hex(Data(resolved.utf8)), t.lockDigest)
        XCTAssertTrue(resolved.contains("package pkg-a 1.1 amd64 "), resolved)
        XCTAssertTrue(try String(contentsOfFile: lockPath, encoding: .utf8).contains("package pkg-a 1.0 amd64"), "the committed lock is left alone")
        // Reuse: no second bootstrap, same root, same identity.
        let again = try fresh.bootstrap(lockPath, archive, .resolve)
        XCTAssertEqual(archive.bootstraps, before + 1)
        XCTAssertEqual(again, t)
        XCTAssertTrue(fresh.lines.text.contains("1 package(s) moved"), fresh.lines.text)
        // Every .deb the root was made of is in the source cache, by sha256 — and so is the resolved lock.
        let cache = SourceCache(root: fresh.out + "/sources")
        XCTAssertNotNil(cache.cachedDeb(package: "pkg-a", version: "1.1", arch: "amd64", sha256: nil))
        XCTAssertTrue(FileManager.default.fileExists(atPath: cache.path(sha256: t.lockDigest!)))
    }

    func testNoDriftKeepsTheCommittedDigest() throws {
        let archive = FakeDebianArchive(published: ["pkg-a": "1.0"], pool: tmp + "/pool")
        _ = try Machine(out: tmp + "/first").bootstrap(lockPath, archive, .update)
        let (_, digest) = try DebianToolchain.load(lockPath: lockPath)
        let fresh = Machine(out: tmp + "/fresh")
        let t = try fresh.bootstrap(lockPath, archive, .resolve)
        XCTAssertEqual(t.lockDigest, digest)
        XCTAssertFalse(fresh.lines.text.contains("has moved"), fresh.lines.text)
    }

    func testFrozenRefusesDriftNamingThePackage() throws {
        let (archive, _, _) = try makeLockThenMoveArchive()
        let fresh = Machine(out: tmp + "/fresh")
        XCTAssertThrowsError(try fresh.bootstrap(lockPath, archive, .frozen)) { e in
            XCTAssertTrue(e is ToolchainUnavailable, "\(e)")
            XCTAssertTrue("\(e)".contains("pkg-a 1.0 amd64"), "\(e)")
            XCTAssertFalse("\(e)".contains("pkg-b"), "pkg-b 2.0 is still in the archive: \(e)")
        }
        XCTAssertNil(try DebianToolchain.cached(lockPath: lockPath, outDir: fresh.out))
    }

    func testFrozenSucceedsOfflineWithTheStaleDebInTheCache() throws {
        let (archive, first, committed) = try makeLockThenMoveArchive()
        let fresh = Machine(out: tmp + "/fresh")
        let cache = SourceCache(root: fresh.out + "/sources")
        // Only the stale package's .deb is put into the fresh machine's cache (as `kiln source add` does)…
        try cache.add(file: try XCTUnwrap(SourceCache(root: first.out + "/sources")
            .cachedDeb(package: "pkg-a", version: "1.0", arch: "amd64", sha256: nil)))
        // …the rest comes from the archive at exactly the locked versions.
        let t = try fresh.bootstrap(lockPath, archive, .frozen)
        XCTAssertEqual(t.lockDigest, committed, "a frozen root is exactly the committed lock")
        XCTAssertEqual(try DebianToolchain.resolvedPackages(root: t.rootPath)["pkg-a"], "1.0 amd64")
        XCTAssertNil(try DebianToolchain.resolvedPackages(root: t.rootPath)["libssl3"], "purged")
        // With everything cached, no network at all is needed.
        archive.online = false
        let offline = Machine(out: tmp + "/offline")
        let t2 = try offline.bootstrap(lockPath, archive, .frozen, cache: first.out + "/sources")
        XCTAssertEqual(t2.lockDigest, committed)
    }

    func testACorruptCachedDebIsRefusedNotUsed() throws {
        let (archive, _, _) = try makeLockThenMoveArchive()
        let (lock, _) = try DebianToolchain.load(lockPath: lockPath)
        let fresh = Machine(out: tmp + "/fresh")
        let cache = SourceCache(root: fresh.out + "/sources")
        let entry = cache.path(sha256: try XCTUnwrap(lock.digests["pkg-a"]))
        try FileManager.default.createDirectory(atPath: (entry as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try archive.deb("pkg-b", "2.0"), toPath: entry)   // the wrong bytes under pkg-a's digest
        XCTAssertThrowsError(try fresh.bootstrap(lockPath, archive, .frozen)) { e in
            XCTAssertTrue("\(e)".contains(entry) && "\(e)".contains("delete it"), "\(e)")
        }
    }

    func testRootForADigestIsRecreatedFromTheCacheOrReportedUnavailable() throws {
        let (archive, first, committed) = try makeLockThenMoveArchive()
        archive.online = false
        let b = ToolchainBootstrap(lockPath: lockPath, outDir: tmp + "/repro", sourceCache: SourceCache(root: first.out + "/sources"),
                                   mode: .frozen, archive: archive, progress: Progress(quiet: true))
        XCTAssertEqual(try b.root(forDigest: committed).lockDigest, committed)
        let empty = ToolchainBootstrap(lockPath: lockPath, outDir: tmp + "/none", mode: .frozen, archive: archive, progress: Progress(quiet: true))
        XCTAssertThrowsError(try empty.root(forDigest: committed)) { e in
            XCTAssertTrue(e is ToolchainUnavailable && "\(e)".contains("cannot be recreated"), "\(e)")
        }
    }

    func testDriftTableAndEnvironment() {
        let rows = DebianToolchain.drift(from: ["a": "1 amd64", "b": "2 all", "gone": "1 all"], to: ["a": "1.1 amd64", "b": "2 all", "new": "3 all"])
        XCTAssertEqual(rows.map(\.package), ["a", "gone", "new"])
        let table = ToolchainDrift.table(rows)
        XCTAssertTrue(table.contains("a") && table.contains("1 amd64") && table.contains("->  1.1 amd64") && table.contains("(absent)"), table)
        XCTAssertEqual(LockMode.resolve.honouringEnvironment(["KILN_FROZEN": "1"]), .frozen)
        XCTAssertEqual(LockMode.update.honouringEnvironment(["KILN_FROZEN": "1"]), .update)
        XCTAssertEqual(LockMode.resolve.honouringEnvironment([:]), .resolve)
    }
}
