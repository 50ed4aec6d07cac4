import Foundation
import KilnCore

/// A repository directory `<repo>/<arch>/` with `*.apk` files and a signed `APKINDEX.tar.gz`.
/// Updating the index is atomic (temporary file + rename) and serialised with a lock file, and only
/// complete package files are indexed (writers rename packages into place; temporary names start
/// with `.` and do not end in `.apk`).
public enum APKRepository {
    public struct Result: Sendable {
        public var indexPath: String
        public var records: [APKIndexRecord]
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
        return names.filter { $0.hasSuffix(".apk") && !$0.hasPrefix(".") }.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// Rewrites `<dir>/APKINDEX.tar.gz` from the packages in `dir`, signed by `signer`.
    /// Every package is read and checked (structure, data hash, file checksums; its signature when
    /// `keyring` is not empty). The index time is SOURCE_DATE_EPOCH when set, else the newest
    /// package build date, so the same packages always give the same bytes.
    @discardableResult
    public static func updateIndex(directory dir: String, signer: APKSigner, keyring: APKKeyring = APKKeyring(),
                                   description: String? = nil, epoch: Int64? = nil) throws -> Result {
        try withLock(dir) {
            AtomicFile.removeStaleTemporaries(in: dir)   // half-written packages of killed runs
            var records: [APKIndexRecord] = []
            let opts = APKVerifyOptions(keyring: keyring, allowUntrusted: keyring.isEmpty, checkFileChecksums: true)
            for name in try packageFiles(in: dir) {
                let pkg = try APKReader.read(path: dir + "/" + name, options: opts)
                let rec = APKIndexRecord(package: pkg)
                guard name == rec.fileName else {
                    throw APKError.malformed(file: dir + "/" + name, "file name does not match its .PKGINFO (expected \(rec.fileName)); apk fetches <name>-<version>.apk")
                }
                records.append(rec)
            }
            let t = epoch ?? SourceDateEpoch.fromEnvironment() ?? records.compactMap(\.buildTime).max() ?? 0
            let bytes = try APKIndex.signedArchive(records: records, description: description, epoch: t, signer: signer)
            let path = dir + "/APKINDEX.tar.gz"
            try AtomicFile.write(bytes, to: path)
            return Result(indexPath: path, records: APKIndex.sorted(records))
        }
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
