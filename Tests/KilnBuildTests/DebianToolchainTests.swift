import Foundation
import KilnBuild
import KilnCrypto
import KilnTestSupport
import XCTest

/// The pinned Debian toolchain (DebianToolchain.swift): lock format, cache key, hermeticity.
final class DebianToolchainTests: XCTestCase {
    var lockPath: String { TestSupport.packageRoot + "/" + DebianToolchain.defaultLockPath }

    func testCommittedLockParsesAndRoundTrips() throws {
        let (t, digest) = try DebianToolchain.load(lockPath: lockPath)
        XCTAssertEqual(t.suite, "bookworm")
        XCTAssertEqual(t.variant, "buildd")
        XCTAssertTrue(t.include.contains("autoconf") && t.include.contains("pkg-config"), "\(t.include)")
        XCTAssertEqual(t.remove, ["libssl3"])
        XCTAssertNotNil(t.packages["gcc-12"])
        XCTAssertNotNil(t.packages["libc6-dev"])
        // No OpenSSL in the pinned set: no libssl-dev, no libssl3 (purged), no openssl CLI.
        for p in ["libssl-dev", "openssl"] { XCTAssertNil(t.packages[p], p) }
        XCTAssertNotNil(t.packages["libssl3"], "installed by the bootstrap (so its .deb is locked), then purged")
        XCTAssertNil(t.installedPackages["libssl3"])
        XCTAssertEqual(t.digests.count, t.packages.count, "every .deb's sha256 is locked")
        // The text kiln writes is exactly the committed file, so its digest is a stable cache key.
        let text = try String(contentsOfFile: lockPath, encoding: .utf8)
        XCTAssertEqual(t.lockText(), text)
        XCTAssertEqual(digest, try Digest.sha256Hex(Data(text.utf8)))
        XCTAssertTrue(DebianToolchain.cacheDirectory(outDir: "out", suite: "bookworm", digest: digest)
                        .hasSuffix("debian-bookworm-\(digest.prefix(16))"))
    }

    func testMalformedLockNamesFileAndLine() throws {
        XCTAssertThrowsError(try DebianToolchain.parseLock("suite bookworm\npackage onlyname\n", file: "x.lock")) { e in
            XCTAssertTrue("\(e)".contains("x.lock:2"), "\(e)")
        }
        XCTAssertThrowsError(try DebianToolchain.parseLock("variant buildd\n", file: "y.lock")) { e in
            XCTAssertTrue("\(e)".contains("y.lock"), "\(e)")
        }
    }

    func testOpenSSLDetection() throws {
        let root = try TestSupport.temporaryDirectory(self)
        XCTAssertEqual(DebianToolchain.openSSLFiles(root: root), [])
        try FileManager.default.createDirectory(atPath: root + "/usr/include/openssl", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: root + "/usr/include/openssl/opensslv.h", contents: Data())
        try FileManager.default.createDirectory(atPath: root + "/usr/lib/x86_64-linux-gnu", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: root + "/usr/lib/x86_64-linux-gnu/libcrypto.so.3", contents: Data())
        XCTAssertEqual(DebianToolchain.openSSLFiles(root: root),
                       ["usr/include/openssl/opensslv.h", "usr/lib/x86_64-linux-gnu/libcrypto.so.3"])
        XCTAssertThrowsError(try DebianToolchain.checkNoOpenSSL(root: root))
    }

    /// The bootstrapped root (make toolchain; make test depends on it) has no OpenSSL and holds exactly
    /// the packages of the lock that describes it — the committed one, or the resolved one when the
    /// archive has moved since (drift is reported, not fatal).
    func testCachedRootIsHermeticAndMatchesItsLock() throws {
        let out = TestSupport.packageRoot + "/out"
        let tc = try ToolchainBootstrap(lockPath: lockPath, outDir: out, mode: .resolve).ensure()
        XCTAssertEqual(DebianToolchain.openSSLFiles(root: tc.rootPath), [])
        let lockText = try String(contentsOfFile: (tc.rootPath as NSString).deletingLastPathComponent + "/kiln-toolchain.lock", encoding: .utf8)
        XCTAssertEqual(tc.lockDigest, try Digest.sha256Hex(Data(lockText.utf8)))
        let lock = try DebianToolchain.parseLock(lockText, file: "kiln-toolchain.lock")
        XCTAssertEqual(try DebianToolchain.resolvedPackages(root: tc.rootPath), lock.installedPackages)
        XCTAssertEqual(lock.request, try DebianToolchain.load(lockPath: lockPath).toolchain.request)
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: tc.rootPath + "/usr/bin/gcc"))
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: tc.rootPath + "/usr/bin/autoreconf"))
        // Every .deb of the root is kept in the source cache by its sha256.
        let cache = SourceCache(root: out + "/sources")
        for (name, digest) in lock.digests { XCTAssertTrue(FileManager.default.fileExists(atPath: cache.path(sha256: digest)), name) }
        // Reuse is instant: same lock, same root.
        let again = try DebianToolchain.ensure(lockPath: lockPath, outDir: out)
        XCTAssertEqual(again, tc)
    }

    func testAptSourcesComeFromApt() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        XCTAssertThrowsError(try DebianToolchain.aptSourceFiles(etcApt: dir))
        try FileManager.default.createDirectory(atPath: dir + "/sources.list.d", withIntermediateDirectories: true)
        try "Types: deb\nURIs: http://example.invalid/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
            .write(toFile: dir + "/sources.list.d/debian.sources", atomically: true, encoding: .utf8)
        try "deb https://example.invalid/apt other main\n".write(toFile: dir + "/sources.list.d/other.list", atomically: true, encoding: .utf8)
        XCTAssertEqual(try DebianToolchain.aptSourceFiles(etcApt: dir), [dir + "/sources.list.d/debian.sources"])
    }
}
