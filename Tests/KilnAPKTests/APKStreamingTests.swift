import Foundation
import KilnArchive
import KilnCrypto
@testable import KilnAPK
import KilnTestSupport
import XCTest

/// `APKReader` reads a package from its file one gzip member at a time: contents stream to the
/// caller in bounded pieces, and the control member is capped before its signature is checked.
final class APKStreamingTests: XCTestCase {
    func gz(_ tar: [UInt8]) throws -> Data { try Gzip.compress(Data(tar), level: 6) }

    /// An unsigned package (read with allowUntrusted) holding `files`.
    func package(_ files: [(String, [UInt8])]) throws -> Data {
        var tar: [UInt8] = []
        for (name, bytes) in files {
            tar += CraftedTar.pax(CraftedTar.record("APK-TOOLS.checksum.SHA1", try Digest.hash(.sha1, Data(bytes)).hexString))
            tar += CraftedTar.file(name, bytes)
        }
        let data = try gz(tar + [UInt8](repeating: 0, count: 1024))
        let info = "pkgname = s\npkgver = 1-r0\narch = x86_64\ndatahash = \(try Digest.hash(.sha256, data).hexString)\n"
        return try gz(CraftedTar.file(".PKGINFO", Array(info.utf8))) + data
    }

    /// A 5 MiB file (twenty times the reader's 256 KiB buffers) arrives in many pieces whose bytes
    /// are the file's; with keepFileData false nothing is kept, and the whole-file SHA-256 is the file's.
    func testLargeFileStreamsInPieces() throws {
        var big = [UInt8](repeating: 0, count: 5 << 20)
        var x: UInt32 = 7
        for i in big.indices { x = x &* 1_103_515_245 &+ 12345; big[i] = UInt8(truncatingIfNeeded: x >> 16) }
        let pkg = try package([("usr/share/small", Array("small".utf8)), ("usr/share/big", big)])
        let path = try TestSupport.temporaryDirectory(self) + "/s-1-r0.apk"
        try pkg.write(to: URL(fileURLWithPath: path))
        var pieces = 0, largest = 0, entries: [String] = []
        let hash = try DigestStream(.sha256)
        let p = try APKReader.read(path: path, options: APKVerifyOptions(allowUntrusted: true), keepFileData: false) { ev in
            switch ev {
            case .entry(let e): entries.append(e.path)
            case .data(let b):
                if entries.last == "usr/share/big" { pieces += 1; largest = max(largest, b.count); hash.update(b) }
            case .end: break
            }
        }
        XCTAssertEqual(entries, ["usr/share/small", "usr/share/big"])
        XCTAssertGreaterThan(pieces, 10)
        XCTAssertLessThanOrEqual(largest, 256 << 10)
        XCTAssertEqual(try hash.finalize(), try Digest.hash(.sha256, Data(big)))
        XCTAssertTrue(p.entries.allSatisfy { $0.data.isEmpty })
        XCTAssertEqual(p.fileSHA256, try Digest.hash(.sha256, pkg).hexString)
        XCTAssertEqual(p.fileSize, pkg.count)
        // The in-memory reader gives the same package, contents included.
        let m = try APKReader.read(data: pkg, file: "s.apk", options: APKVerifyOptions(allowUntrusted: true))
        XCTAssertEqual(m.entries.last?.data, Data(big))
        XCTAssertEqual(m.memberRanges, p.memberRanges)
        XCTAssertEqual(m.checksum, p.checksum)
    }

    /// A control member that inflates past 16 MiB is refused while inflating — before the signature
    /// (here by a key the keyring does not hold) is looked at, and before any data is read.
    func testControlMemberBombIsRefusedBeforeTheSignature() throws {
        let sink = DataSink()
        let z = try GzipSink(sink, level: 9)
        try z.write(CraftedTar.header(name: ".PKGINFO", sizeField: CraftedTar.octal(64 << 20)))
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        for _ in 0..<64 { try z.write(zeros) }
        try z.finish()
        let sig = try gz(CraftedTar.file(".SIGN.RSA256.unknown.rsa.pub", [UInt8](repeating: 1, count: 256)))
        let bomb = sig + sink.data + (try gz([UInt8](repeating: 0, count: 1024)))
        XCTAssertLessThan(bomb.count, 1 << 20)
        XCTAssertThrowsError(try APKReader.read(data: bomb, file: "ctl.apk", options: APKVerifyOptions())) { e in
            XCTAssertTrue("\(e)".contains("ctl.apk") && "\(e)".contains("control member inflates to more than 16777216 bytes"), "\(e)")
        }
        var small = APKVerifyOptions(allowUntrusted: true)
        small.maxControlMemberBytes = 512
        XCTAssertThrowsError(try APKReader.read(data: try package([("a", [1])]), file: "p.apk", options: small)) { e in
            XCTAssertTrue("\(e)".contains("decompression limit"), "\(e)")
        }
    }
}
