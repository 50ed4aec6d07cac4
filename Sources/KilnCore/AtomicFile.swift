import Foundation

/// Writes outputs under a temporary name in the destination directory, then renames them into
/// place, so a killed run never leaves a half-written package, index or image behind.
public enum AtomicFile {
    /// A temporary sibling path for `path` (same directory, so `rename(2)` is atomic).
    public static func temporaryPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        return dir + "/.\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// Atomically writes `data` to `path`, creating parent directories. `mode` is applied before the rename.
    public static func write(_ data: Data, to path: String, mode: mode_t = 0o644) throws {
        try FileManager.default.createDirectory(
            atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path,
            withIntermediateDirectories: true)
        let tmp = temporaryPath(for: path)
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw KilnMessage("cannot create \(tmp): \(String(cString: strerror(errno)))") }
        var ok = false
        defer { if !ok { unlink(tmp) } }
        try data.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + off, raw.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    close(fd)
                    throw KilnMessage("cannot write \(path): \(String(cString: strerror(errno)))")
                }
                off += n
            }
        }
        fchmod(fd, mode)
        fsync(fd)
        close(fd)
        try rename(tmp, to: path)
        ok = true
    }

    public static func write(_ string: String, to path: String, mode: mode_t = 0o644) throws {
        try write(Data(string.utf8), to: path, mode: mode)
    }

    /// Produce a file with `body` writing into a temporary path; on success it is renamed to `path`,
    /// on error (or a throw from `body`) the temporary file is removed.
    public static func produce<T>(_ path: String, _ body: (_ temporaryPath: String) throws -> T) throws -> T {
        try FileManager.default.createDirectory(
            atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path,
            withIntermediateDirectories: true)
        let tmp = temporaryPath(for: path)
        do {
            let result = try body(tmp)
            try rename(tmp, to: path)
            return result
        } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            throw error
        }
    }

    /// `rename(2)`; replaces an existing file (or empty directory) at `to`.
    public static func rename(_ from: String, to: String) throws {
        if Foundation.rename(from, to) != 0 {
            throw KilnMessage("cannot rename \(from) to \(to): \(String(cString: strerror(errno)))")
        }
    }

    /// Atomically replaces a directory: build it at a temporary path, then swap it in.
    /// An existing directory at `path` is moved aside and removed after the swap.
    /// Refuses (before anything is written) a `path` that is a symlink or not a directory, and a
    /// non-empty directory without `marker` (e.g. `oci-layout`): only kiln's own outputs are replaced.
    public static func replaceDirectory(_ path: String, marker: String? = nil,
                                        _ body: (_ temporaryPath: String) throws -> Void) throws {
        let fm = FileManager.default
        try checkReplaceable(path, marker: marker)
        let tmp = temporaryPath(for: path)
        let parent = (path as NSString).deletingLastPathComponent
        try makeDirectories(parent.isEmpty ? "." : parent, advice: "cannot write \(path); choose an output path you can write to")
        try makeDirectories(tmp, advice: "cannot write \(path); choose an output path you can write to")
        do { try body(tmp) } catch { try? fm.removeItem(atPath: tmp); throw error }
        var old: String?
        if fm.fileExists(atPath: path) {
            old = temporaryPath(for: path) + ".old"
            try rename(path, to: old!)
        }
        try rename(tmp, to: path)
        if let old { try? fm.removeItem(atPath: old) }
    }

    /// The process id in a temporary name made by `temporaryPath` (`.NAME.tmp-PID-RANDOM[...]`), or nil.
    public static func temporaryOwner(_ name: String) -> pid_t? {
        guard name.hasPrefix("."), let r = name.range(of: ".tmp-", options: .backwards) else { return nil }
        let rest = name[r.upperBound...]
        guard let dash = rest.firstIndex(of: "-"), let pid = pid_t(rest[..<dash]), pid > 0 else { return nil }
        return pid
    }

    /// Removes the temporary files and directories in `dir` (not below) left by killed kiln runs:
    /// names from `temporaryPath` whose process no longer exists. A live process's (this one's, or a
    /// concurrent run's) are kept. Returns the names removed.
    @discardableResult
    public static func removeStaleTemporaries(in dir: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        var removed: [String] = []
        for n in names.sorted() {
            guard let pid = temporaryOwner(n), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            if (try? FileManager.default.removeItem(atPath: dir + "/" + n)) != nil { removed.append(n) }
        }
        return removed
    }

    /// `mkdir -p` with the reason in the error ("Not a directory", "Permission denied", ...), naming
    /// the component that failed — never an NSCocoaErrorDomain dump.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755, advice: String? = nil) throws {
        var cur = path.hasPrefix("/") ? "" : "."
        for c in path.split(separator: "/") {
            cur += "/" + c
            if mkdir(cur, mode) == 0 || errno == EEXIST {
                var st = stat()
                if stat(cur, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { continue }
                errno = ENOTDIR
            }
            let reason = String(cString: strerror(errno))
            throw KilnMessage("cannot create directory \(path): \(cur == "./" + path || cur == path ? "" : "\(cur): ")\(reason)"
                              + (advice.map { "; \($0)" } ?? ""))
        }
    }

    /// Throws unless `path` is absent, an empty directory, or a directory holding `marker` (when given).
    public static func checkReplaceable(_ path: String, marker: String?) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        switch st.st_mode & S_IFMT {
        case S_IFDIR:
            guard let marker else { return }
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            if names.isEmpty || names.contains(marker) { return }
            throw KilnMessage("\(path) exists and is not a kiln output (no \(marker)); refusing to replace it — remove it or choose another output path")
        case S_IFLNK:
            throw KilnMessage("\(path) is a symbolic link; refusing to replace it — give the real directory or another output path")
        default:
            throw KilnMessage("\(path) exists and is not a directory; refusing to replace it — remove it or choose another output path")
        }
    }
}
