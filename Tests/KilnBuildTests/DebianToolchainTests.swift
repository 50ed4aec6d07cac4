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
        for p in ["libssl-dev", "libssl3", "openssl"] { XCTAssertNil(t.packages[p], p) }
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

    /// The bootstrapped root (make toolchain; make test depends on it) has no OpenSSL and matches the lock.
    func testCachedRootIsHermeticAndMatchesTheLock() throws {
        let out = TestSupport.packageRoot + "/out"
        guard let tc = try DebianToolchain.cached(lockPath: lockPath, outDir: out) else {
            return XCTFail("no bootstrapped toolchain under \(out)/toolchain: run `make toolchain`")
        }
        XCTAssertEqual(DebianToolchain.openSSLFiles(root: tc.rootPath), [])
        let (t, digest) = try DebianToolchain.load(lockPath: lockPath)
        XCTAssertEqual(tc.lockDigest, digest)
        XCTAssertEqual(try DebianToolchain.resolvedPackages(root: tc.rootPath), t.packages)
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: tc.rootPath + "/usr/bin/gcc"))
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: tc.rootPath + "/usr/bin/autoreconf"))
        // Reuse is instant: same lock, same root.
        let again = try DebianToolchain.ensure(lockPath: lockPath, outDir: out)
        XCTAssertEqual(again.rootPath, tc.rootPath)
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
