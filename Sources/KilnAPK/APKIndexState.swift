import Foundation
import KilnArchive
import KilnCore
import KilnCrypto

/// What the last `APKRepository.updateIndex` verified, kept beside the index as
/// `<dir>/.APKINDEX.state` so that the next update re-reads only new or changed packages.
///
/// One line per package file: its identity on disk (size, mtime and ctime to the nanosecond, device
/// and inode) and the `C:` checksum its index record carries. The header binds the file to the exact
/// index bytes it describes (SHA-256) and to the checks that were made (a fingerprint of the verify
/// options and keyring). A record is reused only when the file's identity is unchanged AND the previous
/// index — which must still verify against the signer's own key — holds a record of that name with
/// that checksum and size; anything else (no state, a different index, other checks, a bad line) means
/// a full re-verify. ctime cannot be set back by a user, so content replaced in place is re-read
/// even when the writer restores size and mtime. The state is never trusted on its own: the signed
/// index only ever repeats records kiln verified and signed before.
struct APKIndexState {
    static let fileName = ".APKINDEX.state"
    static let magic = "kiln-apkindex-state 1"

    /// A package file's identity on disk.
    struct FileKey: Equatable {
        var size: Int64
        var mtime: String   // "<sec>.<nsec>"
        var ctime: String
        var inode: String   // "<dev>:<ino>"

        /// Stats `path` (following symlinks, as the reader does).
        init(path: String) throws {
            var st = stat()
            guard stat(path, &st) == 0 else { throw APKError.io("cannot stat \(path): \(String(cString: strerror(errno)))") }
            size = Int64(st.st_size)
            mtime = "\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
            ctime = "\(st.st_ctim.tv_sec).\(st.st_ctim.tv_nsec)"
            inode = "\(st.st_dev):\(st.st_ino)"
        }

        init(size: Int64, mtime: String, ctime: String, inode: String) {
            self.size = size; self.mtime = mtime; self.ctime = ctime; self.inode = inode
        }
    }

    /// Fingerprint of the checks the records passed (see `checks(for:)`).
    var checks: String
    /// SHA-256 (hex) of the APKINDEX.tar.gz these entries went into.
    var indexSHA256 = ""
    /// File name → identity and the checksum of its record.
    var files: [String: (key: FileKey, checksum: String)] = [:]

    /// A fingerprint of what verification covered: the options and every trusted key (name and PEM).
    static func checks(for o: APKVerifyOptions) throws -> String {
        var s = "untrusted=\(o.allowUntrusted) files=\(o.checkFileChecksums) limit=\(o.maxInflatedMemberBytes) abs=\(o.allowAbsoluteSymlinks)\n"
        for name in o.keyring.keys.keys.sorted() {
            let pem = try o.keyring.pems[name] ?? o.keyring.keys[name]!.pem()
            s += name + "\n" + (try Digest.sha256Hex(pem)) + "\n"
        }
        return try Digest.sha256Hex(Data(s.utf8))
    }

    func render() -> String {
        var s = "\(APKIndexState.magic)\nchecks \(checks)\nindex \(indexSHA256)\n"
        for name in files.keys.sorted(by: TarEntry.pathPrecedes) where !name.contains("\n") {
            let f = files[name]!
            s += "\(f.key.size) \(f.key.mtime) \(f.key.ctime) \(f.key.inode) \(f.checksum) \(name)\n"
        }
        return s
    }

    /// Parses a state file; nil for anything not exactly in this format (a full re-verify follows).
    static func parse(_ text: String) -> APKIndexState? {
        // Byte-wise (a String split compares whole characters: slower, and "\r\n" would be one).
        let lines = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Substring.init)
        guard lines.count >= 4, lines[0] == magic, lines[1].hasPrefix("checks "), lines[2].hasPrefix("index "),
              lines.last == "" else { return nil }
        var st = APKIndexState(checks: String(lines[1].dropFirst(7)), indexSHA256: String(lines[2].dropFirst(6)))
        st.files.reserveCapacity(lines.count - 4)
        for line in lines[3..<(lines.count - 1)] {
            let f = line.utf8.split(separator: UInt8(ascii: " "), maxSplits: 5, omittingEmptySubsequences: false).map { String(Substring($0)) }
            guard f.count == 6, let size = Int64(f[0]), !f[4].isEmpty, !f[5].isEmpty, st.files[f[5]] == nil else { return nil }
            st.files[f[5]] = (FileKey(size: size, mtime: f[1], ctime: f[2], inode: f[3]), f[4])
        }
        return st
    }

    static func load(directory dir: String) -> APKIndexState? {
        guard let d = FileManager.default.contents(atPath: dir + "/" + fileName), let text = String(data: d, encoding: .utf8) else { return nil }
        return parse(text)
    }

    func write(directory dir: String) throws {
        try AtomicFile.write(Data(render().utf8), to: dir + "/" + APKIndexState.fileName)
    }
}
