import Foundation
import KilnArchive
import KilnCore
import KilnCrypto

/// A repository directory `<repo>/<arch>/` with `*.apk` files and a signed `APKINDEX.tar.gz`.
/// Updating the index is atomic (temporary file + rename) and serialised with a lock file, and only
/// complete package files are indexed (writers rename packages into place; temporary names start
/// with `.` and do not end in `.apk`).
public enum APKRepository {
    public struct Result: Sendable {
        public var indexPath: String
        public var records: [APKIndexRecord]
        /// The package files read and verified by this update (new, changed, or all of them on a
        /// full re-verify), sorted; the other records were kept from the previous index.
        public var reread: [String] = []
    }

    /// Holds an exclusive `flock` on `<dir>/.APKINDEX.lock` while `body` runs.
    static func withLock<T>(_ dir: String, _ body: () throws -> T) throws -> T {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let lockPath = dir + "/.APKINDEX.lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw APKError.io("cannot open lock file \(lockPath): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR { throw APKError.io("cannot lock \(lockPath): \(String(cString: strerror(errno)))") }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    /// The `.apk` files of `dir`, sorted.
    public static func packageFiles(in dir: String) throws -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else {
            throw APKError.io("cannot read repository directory \(dir)")
        }
        return names.filter { $0.hasSuffix(".apk") && !$0.hasPrefix(".") }.sorted(by: TarEntry.pathPrecedes)
    }

    /// Rewrites `<dir>/APKINDEX.tar.gz` from the packages in `dir`, signed by `signer`.
    /// A package is read and checked (structure, data hash, file checksums; its signature when
    /// `keyring` is not empty) when it is new or changed since the last update; unchanged ones keep
    /// their record from the previous index (`APKIndexState`: same size, mtime, ctime and inode, and the
    /// previous index still verifies against the signer's key and holds that `C:`), removed ones drop
    /// out. `verifyAll` reads and checks every package. The index time is SOURCE_DATE_EPOCH when set,
    /// else the newest package build date, so the same packages always give the same bytes.
    @discardableResult
    public static func updateIndex(directory dir: String, signer: APKSigner, keyring: APKKeyring = APKKeyring(),
                                   description: String? = nil, epoch: Int64? = nil, verifyAll: Bool = false) throws -> Result {
        try withLock(dir) {
            AtomicFile.removeStaleTemporaries(in: dir)   // half-written packages of killed runs
            let opts = APKVerifyOptions(keyring: keyring, allowUntrusted: keyring.isEmpty, checkFileChecksums: true)
            var state = APKIndexState(checks: try APKIndexState.checks(for: opts))
            let previous = verifyAll ? [:] : previousRecords(dir, signer: signer, checks: state.checks)
            var records: [APKIndexRecord] = []
            var reread: [String] = []
            for name in try packageFiles(in: dir) {
                let path = dir + "/" + name
                let key = try APKIndexState.FileKey(path: path)   // before reading: a change while reading shows next time
                if let p = previous[name], p.key == key {
                    records.append(p.record)
                    state.files[name] = (key, p.record.checksum)
                    continue
                }
                let pkg = try APKReader.read(path: path, options: opts)
                let rec = APKIndexRecord(package: pkg)
                guard name == rec.fileName else {
                    throw APKError.malformed(file: path, "file name does not match its .PKGINFO (expected \(rec.fileName)); apk fetches <name>-<version>.apk")
                }
                records.append(rec)
                reread.append(name)
                state.files[name] = (key, rec.checksum)
            }
            let t = epoch ?? SourceDateEpoch.fromEnvironment() ?? records.compactMap(\.buildTime).max() ?? 0
            let bytes = try APKIndex.signedArchive(records: records, description: description, epoch: t, signer: signer)
            let path = dir + "/APKINDEX.tar.gz"
            try AtomicFile.write(bytes, to: path)
            // Written after the index: a crash in between leaves a state that names other index bytes.
            state.indexSHA256 = try Digest.sha256Hex(bytes)
            try state.write(directory: dir)
            return Result(indexPath: path, records: APKIndex.sorted(records), reread: reread)
        }
    }

    /// The previous index's records by file name, each with the file identity it was verified at;
    /// empty (a full re-verify) unless the state matches these checks and the index bytes, and the
    /// index verifies against `signer`'s own public key.
    static func previousRecords(_ dir: String, signer: APKSigner, checks: String) -> [String: (key: APKIndexState.FileKey, record: APKIndexRecord)] {
        guard let state = APKIndexState.load(directory: dir), state.checks == checks,
              let data = FileManager.default.contents(atPath: dir + "/APKINDEX.tar.gz"),
              (try? Digest.sha256Hex(data)) == state.indexSHA256 else { return [:] }
        guard let publicKey = try? signer.key.publicKey else { return [:] }
        var ring = APKKeyring()
        ring.add(name: signer.keyName, key: publicKey)
        guard let index = try? APKIndex.read(data: data, file: dir + "/APKINDEX.tar.gz", options: APKVerifyOptions(keyring: ring)) else { return [:] }
        var out: [String: (key: APKIndexState.FileKey, record: APKIndexRecord)] = [:]
        for r in index.records {
            guard let f = state.files[r.fileName], f.checksum == r.checksum, f.key.size == r.size else { continue }
            out[r.fileName] = (f.key, r)
        }
        return out
    }

    /// Writes a package into `<repo>/<arch>/` and then updates that directory's index (the package
    /// file is complete and renamed into place before the index names it).
    @discardableResult
    public static func add(spec: PackageSpec, root: String, repository: String, signer: APKSigner,
                           description: String? = nil) throws -> (package: APKWriter.Output, index: Result) {
        let out = try APKWriter.write(spec: spec, root: root, repository: repository, signer: signer)
        let idx = try updateIndex(directory: "\(repository)/\(spec.arch)", signer: signer, description: description)
        return (out, idx)
    }
}
