import Foundation
import KilnAPK
import KilnArchive
import KilnCore
import KilnCrypto

/// Errors about repositories and packages: name the file and what to do.
public struct RepositoryError: KilnError {
    /// The message, naming the file.
    public var message: String
    /// An error with `message`.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}

extension APKKeyring {
    /// The image config's `contents.keyring` (plus `--keyring` extras): each file a PEM public key.
    static func image(paths: [String]) throws -> APKKeyring {
        var ring = APKKeyring()
        for p in paths {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: p, isDirectory: &isDir), isDir.boolValue {   // --keyring DIR
                for (n, k) in try APKKeyring(directory: p).keys { ring.add(name: n, key: k) }
                continue
            }
            guard FileManager.default.isReadableFile(atPath: p) else {
                throw RepositoryError("\(p): cannot read keyring key; check `contents.keyring` in the image config")
            }
            try ring.add(path: p)
        }
        return ring
    }
}

/// Loading verified repositories and packages for images, through KilnAPK's readers (the same
/// checks `kiln apk verify` makes); only the advice in the errors is image-specific.
public enum Repository {
    /// Finds the APKINDEX for `path` (a repository root with `<arch>/`, or the arch folder itself).
    public static func indexPath(_ path: String, arch: String) -> String {
        let a = path + "/" + arch + "/APKINDEX.tar.gz"
        return FileManager.default.fileExists(atPath: a) ? a : path + "/APKINDEX.tar.gz"
    }

    /// Loads and verifies `<path>/<arch>/APKINDEX.tar.gz` against the keyring; the packages are
    /// located beside the index and tagged with the repository's position `index`.
    public static func load(path: String, arch: String, keyring: APKKeyring, index: Int = 0) throws -> [APKRepositoryPackage] {
        let file = indexPath(path, arch: arch)
        guard FileManager.default.fileExists(atPath: file) else {
            throw RepositoryError("\(file): no APKINDEX.tar.gz here; build the repository with `kiln index` or fix the repository path")
        }
        let idx = try advised(file) { try APKIndex.read(path: file, options: APKVerifyOptions(keyring: keyring)) }
        let dir = URL(fileURLWithPath: file).deletingLastPathComponent().path
        return idx.records.map { APKRepositoryPackage(record: $0, location: dir + "/" + $0.fileName, repositoryIndex: index) }
    }

    /// Re-throws KilnAPK's verification errors with the advice that fits an image build.
    static func advised<T>(_ file: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as APKError {
            switch e {
            case .untrusted(_, let sigs) where sigs.isEmpty:
                throw RepositoryError("\(file): unsigned index or package; kiln refuses unsigned repositories (sign with `kiln index --key`)")
            case .untrusted(_, let sigs):
                throw RepositoryError("\(file): signed by untrusted key(s) \(sigs.joined(separator: ", ")); add the public key to `contents.keyring`")
            case let .dataHashMismatch(_, expected, actual):
                throw RepositoryError("\(file): data member SHA-256 \(actual) does not match datahash \(expected); the package was tampered with")
            default: throw e
            }
        }
    }
}

/// A package file read and verified: its record, the SHA-256 of the whole file and its data entries.
public struct VerifiedPackage {
    /// The index record it was loaded for.
    public var record: APKRepositoryPackage
    /// Hex SHA-256 of the whole `.apk` file (lock files pin this).
    public var sha256: String
    /// The data member's entries. A regular file's bytes are its `content`: `.data` (small files)
    /// or `.file` (a spill file) when loaded with a spill directory, `.none` without one.
    public var entries: [TarEntry]

    /// Reads `record.location` with `APKReader` (signature over the control member, `datahash`,
    /// per-file checksums, member layout) and checks `C:` against the index, streaming: the file is
    /// read once and no more than the reader's buffers is held. File contents are not kept.
    public static func load(_ record: APKRepositoryPackage, keyring: APKKeyring) throws -> VerifiedPackage {
        try load(record, keyring: keyring, spill: nil)
    }

    /// The same, with each regular file's bytes kept in memory or written to `spill` as they are
    /// inflated (the files of a package that fails verification stay there until `spill` is removed).
    static func load(_ record: APKRepositoryPackage, keyring: APKKeyring, spill: SpillDirectory?) throws -> VerifiedPackage {
        let file = record.location
        guard FileManager.default.isReadableFile(atPath: file) else {
            throw RepositoryError("\(file): package listed in the index is missing; rebuild the repository index")
        }
        let spiller = spill.map { PackageSpiller(spill: $0, file: file) }
        let handler: ((TarStreamEvent) throws -> Void)? = spiller.map { s in { try s.handle($0) } }
        let pkg = try Repository.advised(file) {
            try APKReader.read(path: file, options: APKVerifyOptions(keyring: keyring), keepFileData: false, onData: handler)
        }
        if !record.checksum.isEmpty && pkg.checksum != record.checksum {
            throw RepositoryError("\(file): control checksum \(pkg.checksum) differs from the index (\(record.checksum)); the index is stale, run `kiln index` again")
        }
        return VerifiedPackage(record: record, sha256: pkg.fileSHA256, entries: spiller?.entries ?? pkg.entries.compactMap(\.tarEntry))
    }
}
