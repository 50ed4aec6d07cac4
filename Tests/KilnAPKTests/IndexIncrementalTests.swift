import Foundation
import KilnAPK
import KilnCrypto
import KilnTestSupport
import XCTest

/// `APKRepository.updateIndex` re-reads only new or changed packages (issue 19): after every add,
/// replace and remove the index is byte-identical to a full re-verify, and `Result.reread` — the
/// files actually read — names exactly the changed ones.
final class IndexIncrementalTests: XCTestCase {
    var tmp = ""
    var key: TestKey!
    var dir: String { tmp + "/repo/x86_64" }

    override func setUpWithError() throws {
        tmp = try TestSupport.temporaryDirectory(self, prefix: "kiln-index-inc")
        key = try TestKey.make(in: tmp)
    }

    @discardableResult
    func package(_ name: String, text: String = "hello\n", epoch: Int = 0) throws -> String {
        let root = tmp + "/tree-\(name)-\(UUID().uuidString)"
        try Fixture.write(root + "/usr/share/\(name)/data.txt", text)
        let s = Fixture.spec(name, version: "1.0", epoch: epoch)
        try APKWriter.write(spec: s, root: root, repository: tmp + "/repo", signer: key.signer)
        return "\(name)-1.0-r\(epoch).apk"
    }

    func update(verifyAll: Bool = false, keyring: APKKeyring = APKKeyring()) throws -> APKRepository.Result {
        try APKRepository.updateIndex(directory: dir, signer: key.signer, keyring: keyring, description: "inc", verifyAll: verifyAll)
    }

    var indexBytes: Data { FileManager.default.contents(atPath: dir + "/APKINDEX.tar.gz") ?? Data() }

    /// The incremental index equals the full one; returns the incremental result.
    func updateAndCompare(file: StaticString = #filePath, line: UInt = #line) throws -> APKRepository.Result {
        let inc = try update()
        let incBytes = indexBytes
        let full = try update(verifyAll: true)
        XCTAssertEqual(full.reread.count, full.records.count, "--verify-all reads every package", file: file, line: line)
        XCTAssertEqual(indexBytes, incBytes, "incremental index differs from a full re-verify", file: file, line: line)
        XCTAssertEqual(inc.records, full.records, file: file, line: line)
        return inc
    }

    func testAddReplaceRemoveRereadOnlyWhatChanged() throws {
        let a = try package("alpha"), b = try package("beta"), c = try package("gamma")
        XCTAssertEqual(try update().reread, [a, b, c], "no previous index: everything is read")
        XCTAssertEqual(try update().reread, [], "nothing changed: nothing is read")

        let d = try package("delta")
        let added = try updateAndCompare()
        XCTAssertEqual(added.reread, [d])
        XCTAssertEqual(added.records.map(\.name), ["alpha", "beta", "delta", "gamma"])

        // beta rebuilt with other content under the same file name (the writer renames into place).
        let oldBeta = try update().records.first { $0.name == "beta" }!.checksum
        try package("beta", text: "changed\n")
        let replaced = try updateAndCompare()
        XCTAssertEqual(replaced.reread, [b])
        XCTAssertNotEqual(replaced.records.first { $0.name == "beta" }!.checksum, oldBeta)

        try FileManager.default.removeItem(atPath: dir + "/" + c)
        let removed = try updateAndCompare()
        XCTAssertEqual(removed.reread, [])
        XCTAssertEqual(removed.records.map(\.name), ["alpha", "beta", "delta"])
    }

    /// Content replaced in place with size and mtime restored is still re-read (ctime moved) — and
    /// refused, since its data no longer matches its signed hash.
    func testInPlaceTamperWithRestoredMtimeIsReread() throws {
        let a = try package("alpha")
        try package("beta")
        _ = try update()
        let path = dir + "/" + a
        var st = stat()
        XCTAssertEqual(stat(path, &st), 0)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count - 40] ^= 0x55
        let fd = open(path, O_WRONLY)
        XCTAssertEqual(bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }, bytes.count)
        close(fd)
        var times = [st.st_atim, st.st_mtim]
        XCTAssertEqual(utimensat(AT_FDCWD, path, &times, 0), 0)
        XCTAssertThrowsError(try update(), "the tampered package must be read again and refused")
    }

    /// Without a trustworthy state — none, one naming other index bytes, other checks (a keyring now
    /// given), an index not signed by this signer — every package is read.
    func testUntrustedStateMeansFullReverify() throws {
        let names = [try package("alpha"), try package("beta")]
        _ = try update()
        let statePath = dir + "/.APKINDEX.state"
        XCTAssertTrue(FileManager.default.fileExists(atPath: statePath))

        try FileManager.default.removeItem(atPath: statePath)
        XCTAssertEqual(try update().reread, names, "no state")

        var text = try String(contentsOfFile: statePath, encoding: .utf8)
        text = text.replacingOccurrences(of: "\nindex ", with: "\nindex 00")
        try text.write(toFile: statePath, atomically: true, encoding: .utf8)
        XCTAssertEqual(try update().reread, names, "state names other index bytes")

        XCTAssertEqual(try update(keyring: key.keyring).reread, names, "a keyring: signatures were not checked before")
        XCTAssertEqual(try update(keyring: key.keyring).reread, [], "same keyring again: nothing to read")

        // An index signed by another key (the state updated to match it) is not trusted.
        let other = try TestKey.make(in: tmp, name: "other.rsa")
        _ = try APKRepository.updateIndex(directory: dir, signer: other.signer, description: "inc")
        XCTAssertEqual(try update().reread, names, "previous index signed by another key")
    }

    /// `kiln index --verify-all` reads every package; without it an unchanged repository reads none.
    func testCLIVerifyAll() throws {
        try package("alpha"); try package("beta")
        let first = try KilnBinary.run(["index", "--signing-key", key.privatePath, dir])
        XCTAssertEqual(first.status, 0, first.err)
        XCTAssertTrue(first.out.contains("2 packages (2 read and checked)"), first.out)
        let again = try KilnBinary.run(["index", "--signing-key", key.privatePath, dir])
        XCTAssertTrue(again.out.contains("2 packages (0 read and checked)"), again.out)
        let all = try KilnBinary.run(["index", "--verify-all", "--signing-key", key.privatePath, dir])
        XCTAssertTrue(all.out.contains("2 packages (2 read and checked)"), all.out)
    }
}
