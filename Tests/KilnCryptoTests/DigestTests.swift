import Foundation
import KilnCrypto
import KilnTestSupport
import XCTest

final class DigestTests: XCTestCase {
    /// `openssl dgst -ALG -r FILE` → hex.
    func opensslDigest(_ alg: DigestAlgorithm, _ path: String) throws -> String {
        let r = try TestSupport.run("openssl", ["dgst", "-\(alg.rawValue)", "-r", path])
        XCTAssertEqual(r.status, 0, r.err)
        return String(r.out.split(separator: " ").first ?? "")
    }

    func testDigestsMatchOpenSSLOnRandomData() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        for size in [0, 1, 55, 64, 1000, 65_537] {
            let data = Data(try Random.bytes(size))
            let path = "\(dir)/r\(size)"
            try data.write(to: URL(fileURLWithPath: path))
            for alg in DigestAlgorithm.allCases {
                let ours = try Digest.hash(alg, data)
                XCTAssertEqual(ours.count, alg.size)
                XCTAssertEqual(ours.hexString, try opensslDigest(alg, path), "\(alg) of \(size) bytes")
            }
        }
    }

    func testFileDigestStreamsAMultiMegabyteFile() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let path = "\(dir)/big"
        FileManager.default.createFile(atPath: path, contents: nil)
        let h = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        let streamed = try DigestStream(.sha256)
        for _ in 0..<5 {   // 5 × 777 KiB, not a multiple of the 1 MiB read size
            let chunk = Data(try Random.bytes(777 * 1024))
            h.write(chunk)
            streamed.update(chunk)
        }
        try h.close()
        for alg in DigestAlgorithm.allCases {
            XCTAssertEqual(try Digest.hashFile(alg, path: path).hexString, try opensslDigest(alg, path))
        }
        XCTAssertEqual(try streamed.finalize().hexString, try opensslDigest(.sha256, path))
    }

    func testKnownVectorsHexAndBase64() throws {
        XCTAssertEqual(try Digest.sha256Hex(Data("abc".utf8)),
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(try Digest.hash(.sha1, Data("abc".utf8)).base64String, "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=")
        XCTAssertEqual([0x00, 0x0f, 0xf0, 0xff].hexString, "000ff0ff")
    }

    func testFinalizeTwiceAndMissingFileAreErrors() throws {
        let s = try DigestStream(.sha512)
        _ = try s.finalize()
        XCTAssertThrowsError(try s.finalize())
        XCTAssertThrowsError(try Digest.hashFile(.sha256, path: "/nonexistent/kiln-file")) { e in
            XCTAssertTrue("\(e)".contains("/nonexistent/kiln-file"), "\(e)")
        }
    }

    func testRandomBytesDiffer() throws {
        XCTAssertNotEqual(try Random.bytes(32), try Random.bytes(32))
        XCTAssertEqual(try Random.bytes(0), [])
    }
}
