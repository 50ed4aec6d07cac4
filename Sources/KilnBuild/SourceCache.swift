import Foundation
import KilnCore
import KilnCrypto
import KilnRecipe

/// A wrong digest: names expected and actual digests and the recipe line that pins the source.
public struct DigestMismatch: KilnError {
    public var uri: String
    public var algorithm: String
    public var expected: String
    public var actual: String
    public var location: SourceLocation?
    /// A local file (`file://` or a path): its digest is never shown — kiln runs as root, and the
    /// digest of any file it can read must not leak through a recipe's error message.
    public var isLocal = false
    public var description: String {
        let at = location.map { "\($0): " } ?? ""
        if isLocal {
            return at + "\(algorithm) mismatch: the local file \(uri) does not match expected-\(algorithm) \(expected)\n"
                + "the file was not kept; check that the recipe names the right file, or fix expected-\(algorithm) "
                + "(compute it yourself, e.g. with sha256sum)"
        }
        return at + "\(algorithm) mismatch for \(uri)\n  expected: \(expected)\n  actual:   \(actual)\n"
            + "the file was not kept; check the URI or fix expected-\(algorithm) in the recipe"
    }
}

/// Content-addressed store of source files: `<root>/sha256/<hex>` holds the bytes; `<root>/sha512/<hex>`
/// is a hard link to the same file. Files enter only through `add` (digests computed by KilnCrypto)
/// and are never replaced, so a cached source is never downloaded again.
public struct SourceCache: Sendable {
    public var root: String
    public init(root: String) { self.root = root }

    public struct Entry: Sendable, Equatable {
        public var sha256: String
        public var sha512: String
        public var size: Int64
        public var path: String
    }

    public func path(sha256: String) -> String { "\(root)/sha256/\(sha256.lowercased())" }
    public func path(sha512: String) -> String { "\(root)/sha512/\(sha512.lowercased())" }

    /// The cached file for a fetch request, or nil.
    public func lookup(_ r: FetchRequest) -> String? {
        if let s = r.sha256, FileManager.default.fileExists(atPath: path(sha256: s)) { return path(sha256: s) }
        if let s = r.sha512, FileManager.default.fileExists(atPath: path(sha512: s)) { return path(sha512: s) }
        return nil
    }

    static func digests(of file: String) throws -> (sha256: String, sha512: String, size: Int64) {
        guard let fh = FileHandle(forReadingAtPath: file) else {
            throw KilnMessage("cannot read \(file): no such file or not readable")
        }
        defer { try? fh.close() }
        let s256 = try DigestStream(.sha256), s512 = try DigestStream(.sha512)
        var size: Int64 = 0
        while true {
            let chunk = fh.readData(ofLength: 1 << 20)
            if chunk.isEmpty { break }
            s256.update(chunk); s512.update(chunk)
            size += Int64(chunk.count)
        }
        return (try s256.finalize().hexString, try s512.finalize().hexString, size)
    }

    /// Adds a file by its digests (copying it), returns the entry. Adding the same bytes twice is a no-op.
    @discardableResult
    public func add(file given: String) throws -> Entry {
        let file = realpath(given, nil).map { p in defer { free(p) }; return String(cString: p) } ?? given   // the bytes, not a link
        let d = try Self.digests(of: file)
        let dest = path(sha256: d.sha256)
        let fm = FileManager.default
        try fm.createDirectory(atPath: "\(root)/sha256", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: "\(root)/sha512", withIntermediateDirectories: true)
        if !fm.fileExists(atPath: dest) {
            try AtomicFile.produce(dest) { tmp in
                try fm.copyItem(atPath: file, toPath: tmp)
                chmod(tmp, 0o444)
                // The copy must still be what was hashed (the source may have changed under us).
                let again = try Self.digests(of: tmp)
                guard again.sha256 == d.sha256 else { throw KilnMessage("\(file) changed while it was being added; try again") }
            }
        }
        let link = path(sha512: d.sha512)
        if !fm.fileExists(atPath: link) {
            let tmp = AtomicFile.temporaryPath(for: link)
            if Foundation.link(dest, tmp) != 0 { try fm.copyItem(atPath: dest, toPath: tmp) }
            try AtomicFile.rename(tmp, to: link)
        }
        return Entry(sha256: d.sha256, sha512: d.sha512, size: d.size, path: dest)
    }

    /// Checks `file` against the request's digests; on a mismatch the error names both digests
    /// (only the expected one for a local source).
    public static func verify(file: String, against r: FetchRequest) throws -> (sha256: String, sha512: String) {
        let d = try digests(of: file)
        let local = Downloader.isLocal(r.uri)
        if let e = r.sha256, e != d.sha256 {
            throw DigestMismatch(uri: r.uri, algorithm: "sha256", expected: e, actual: d.sha256, location: r.location, isLocal: local)
        }
        if let e = r.sha512, e != d.sha512 {
            throw DigestMismatch(uri: r.uri, algorithm: "sha512", expected: e, actual: d.sha512, location: r.location, isLocal: local)
        }
        return (d.sha256, d.sha512)
    }

    /// The cached source for `r`, re-verified; downloads it first when missing and `download` is set.
    /// A download with the wrong digest is deleted and reported.
    public func fetch(_ r: FetchRequest, download: Bool, policy: FetchPolicy = FetchPolicy(),
                      log: ((String) -> Void)? = nil) throws -> (path: String, sha256: String, sha512: String) {
        if let p = lookup(r) {
            do {
                let d = try Self.verify(file: p, against: r)
                return (p, d.sha256, d.sha512)
            } catch let e as DigestMismatch {
                throw KilnMessage("source cache entry \(p) is corrupt (\(e.algorithm) is \(e.actual)); delete it and fetch again")
            }
        }
        guard download else {
            throw KilnMessage("\(r.location): source \(r.uri) is not in the source cache \(root)\n"
                              + "run `kiln source fetch` (needs network) or `kiln source add FILE` with a copy of it")
        }
        try FileManager.default.createDirectory(atPath: "\(root)/tmp", withIntermediateDirectories: true)
        removeStaleDownloads()
        let tmp = "\(root)/tmp/download-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        log?("downloading \(r.uri)")
        try Downloader.download(r.uri, to: tmp, policy: policy, at: r.location)
        _ = try Self.verify(file: tmp, against: r)   // a bad file is removed by the defer
        let e = try add(file: tmp)
        return (e.path, e.sha256, e.sha512)
    }

    /// Removes `<root>/tmp/download-PID-…` files of killed runs (their process is gone), and stale
    /// temporaries of `add` in `<root>/sha256` and `<root>/sha512`.
    func removeStaleDownloads() {
        let tmp = "\(root)/tmp"
        for n in (try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? [] where n.hasPrefix("download-") {
            let parts = n.split(separator: "-")
            guard parts.count >= 3, let pid = pid_t(parts[1]), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            try? FileManager.default.removeItem(atPath: "\(tmp)/\(n)")
        }
        AtomicFile.removeStaleTemporaries(in: "\(root)/sha256")
        AtomicFile.removeStaleTemporaries(in: "\(root)/sha512")
    }

    /// Every cached file (by sha256), sorted.
    public func entries() throws -> [Entry] {
        let dir = "\(root)/sha256"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        var out: [Entry] = []
        let by512 = Dictionary((try? FileManager.default.contentsOfDirectory(atPath: "\(root)/sha512"))?.compactMap { n -> (UInt64, String)? in
            var st = stat()
            guard stat("\(root)/sha512/\(n)", &st) == 0 else { return nil }
            return (UInt64(st.st_ino), n)
        } ?? [], uniquingKeysWith: { a, _ in a })
        for n in names.sorted() where n.count == 64 {
            var st = stat()
            guard stat("\(dir)/\(n)", &st) == 0 else { continue }
            out.append(Entry(sha256: n, sha512: by512[UInt64(st.st_ino)] ?? "", size: Int64(st.st_size), path: "\(dir)/\(n)"))
        }
        return out
    }
}

