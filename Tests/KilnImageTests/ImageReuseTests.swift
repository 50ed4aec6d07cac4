import Foundation
import KilnCrypto
@testable import KilnImage
import KilnTestSupport
import XCTest

/// `kiln image` run twice (the built executable, signing with a real ECDSA key): a rerun with the same
/// inputs leaves the layout's bytes and mtimes alone and says so; rewriting an input with the same
/// bytes still reuses (content, not mtimes); a changed input, a tampered blob and a run after a failed
/// one rebuild. Signatures are randomised (ECDSA), so an unchanged index.json proves nothing was re-signed.
extension ImageBuildTests {
    /// index.json's bytes and mtime, and every blob's name and mtime.
    func snapshot(_ layout: String) throws -> [String: String] {
        var s: [String: String] = [:]
        let fm = FileManager.default
        for p in ["index.json"] + (try fm.contentsOfDirectory(atPath: layout + "/blobs/sha256")).map({ "blobs/sha256/" + $0 }) {
            let a = try fm.attributesOfItem(atPath: layout + "/" + p)
            s[p] = "\((a[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0) \(try Digest.sha256Hex(try Data(contentsOf: URL(fileURLWithPath: layout + "/" + p))))"
        }
        return s
    }

    func testReuseLeavesAnUnchangedLayoutAloneAndRebuildsOtherwise() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let repo = try makeRepo(dir)
        let cfg = try writeConfig(dir, repo)
        XCTAssertEqual(try TestSupport.kiln(["keygen", "--type", "ecdsa", "--out", dir + "/cosign"]).status, 0)
        let layout = dir + "/out/hello"
        func image() throws -> (status: Int32, out: String, err: String) {
            try TestSupport.kiln(["image", cfg, "--out", layout, "--sign-key", dir + "/cosign.key", "--source-date-epoch", "1700000100"])
        }
        let first = try image()
        XCTAssertEqual(first.status, 0, first.err)
        XCTAssertFalse(first.out.contains("reused"), first.out)
        XCTAssertTrue(first.err.contains("building (no layout at"), first.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: layout + "/" + ImageReuse.fileName))
        let tags = first.out.split(separator: "\n").filter { $0.hasPrefix("hello:") }
        XCTAssertEqual(tags.count, 2, first.out)
        let before = try snapshot(layout)

        // Same inputs, and the config rewritten with the same bytes (new mtime): reused, untouched.
        let text = try String(contentsOfFile: cfg, encoding: .utf8)
        Thread.sleep(forTimeInterval: 0.02)
        try text.write(toFile: cfg, atomically: true, encoding: .utf8)
        let second = try image()
        XCTAssertEqual(second.status, 0, second.err)
        XCTAssertTrue(second.out.contains("unchanged since") && second.out.contains("reused, not rebuilt or re-signed"), second.out)
        XCTAssertEqual(second.out.split(separator: "\n").filter { $0.hasPrefix("hello:") }, tags, "the reused run prints the same TAG DIGEST lines")
        XCTAssertTrue(second.err.contains("signed hello:"), "the reused run prints the signing lines again: \(second.err)")
        XCTAssertEqual(try snapshot(layout), before, "a reused layout keeps its bytes and mtimes")

        // A tampered blob (same size, other bytes) is found and the layout rebuilt, not trusted.
        let blobs = try FileManager.default.contentsOfDirectory(atPath: layout + "/blobs/sha256")
        let victim = try XCTUnwrap(blobs.max { (try? Data(contentsOf: URL(fileURLWithPath: layout + "/blobs/sha256/" + $0)).count) ?? 0
                                               < (try? Data(contentsOf: URL(fileURLWithPath: layout + "/blobs/sha256/" + $1)).count) ?? 0 })
        let vp = layout + "/blobs/sha256/" + victim
        var bytes = try Data(contentsOf: URL(fileURLWithPath: vp))
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: vp))
        let third = try image()
        XCTAssertEqual(third.status, 0, third.err)
        XCTAssertFalse(third.out.contains("reused"), third.out)
        XCTAssertTrue(third.err.contains("not the blob the build of"), third.err)
        XCTAssertEqual(try Digest.hashFile(.sha256, path: vp).hexString, victim, "the rebuild wrote the blob again")
        XCTAssertNotEqual(try snapshot(layout)["index.json"], before["index.json"], "rebuilt and signed again")

        // A changed input rebuilds and names it.
        try (text + "\nannotations: {org.example.note: changed}\n").write(toFile: cfg, atomically: true, encoding: .utf8)
        let fourth = try image()
        XCTAssertEqual(fourth.status, 0, fourth.err)
        XCTAssertTrue(fourth.err.contains("inputs changed since") && fourth.err.contains("config"), fourth.err)

        // A failed run leaves no record: back to the old inputs, the layout is rebuilt, not reused.
        try text.replacingOccurrences(of: "packages: [hello]", with: "packages: [no-such-package]").write(toFile: cfg, atomically: true, encoding: .utf8)
        XCTAssertNotEqual(try image().status, 0)
        try (text + "\nannotations: {org.example.note: changed}\n").write(toFile: cfg, atomically: true, encoding: .utf8)
        let sixth = try image()
        XCTAssertEqual(sixth.status, 0, sixth.err)
        XCTAssertFalse(sixth.out.contains("reused"), "a run after a failed one is not reused: \(sixth.out)")
        XCTAssertTrue(sixth.err.contains("no record of a successful build"), sixth.err)
        XCTAssertTrue(try image().out.contains("reused"), "and the run after that is")
    }

    /// `kiln sign` twice over the same layout: the second run finds a valid signature and identical
    /// attestations by the same key and re-signs nothing (index.json and the blobs are left alone).
    func testSigningAgainWithTheSameKeyLeavesTheLayoutAlone() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let repo = try makeRepo(dir)
        let layout = dir + "/out/hello"
        _ = try build(try writeConfig(dir, repo), out: layout)
        XCTAssertEqual(try TestSupport.kiln(["keygen", "--type", "ecdsa", "--out", dir + "/cosign"]).status, 0)
        let sign = ["sign", layout, "--key", dir + "/cosign.key"]
        let first = try TestSupport.kiln(sign)
        XCTAssertEqual(first.status, 0, first.err)
        let before = try snapshot(layout)
        let again = try TestSupport.kiln(sign)
        XCTAssertEqual(again.status, 0, again.err)
        XCTAssertEqual(try snapshot(layout), before, "a second signing by the same key wrote nothing")
        // Another key adds its signature beside the first (the layout does change then).
        XCTAssertEqual(try TestSupport.kiln(["keygen", "--type", "ecdsa", "--out", dir + "/other"]).status, 0)
        XCTAssertEqual(try TestSupport.kiln(["sign", layout, "--key", dir + "/other.key", "--no-attest"]).status, 0)
        XCTAssertNotEqual(try snapshot(layout)["index.json"], before["index.json"])
        XCTAssertEqual(try TestSupport.kiln(["verify", layout, "--key", dir + "/cosign.pub"]).status, 0)
    }
}
