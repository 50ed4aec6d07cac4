import Foundation

/// Creates entries under a destination without ever following a symlink while writing.
final class Extractor {
    let root: String
    let archive: String
    let options: ExtractOptions
    private var directories: [(path: String, mode: UInt32, mtime: Int64)] = []
    /// Every symlink made, re-checked against the finished tree (a later entry can change what an
    /// earlier link resolves to: `a -> b/../x` is inside while `b` is absent, outside once `b -> .`).
    private var symlinks: [(parts: [String], target: String, entry: String)] = []
    /// File bytes written so far (for `options.maxTotalBytes`).
    private(set) var bytesWritten: Int64 = 0
    /// Entries seen so far (for `options.maxEntries`).
    private(set) var entriesSeen = 0

    init(destination: String, archive: String, options: ExtractOptions) throws {
        try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
        root = destination.hasSuffix("/") && destination.count > 1 ? String(destination.dropLast()) : destination
        self.archive = archive
        self.options = options
    }

    private func refuse(_ entry: String, _ reason: String) -> ArchiveError {
        .unsafeEntry(archive: archive, entry: entry, reason: reason)
    }

    /// Safe relative components of an entry path, or nil for the root ("." / "./").
    func components(_ path: String, entry: String, what: String = "path") throws -> [String]? {
        if path.hasPrefix("/") { throw refuse(entry, "absolute \(what) '\(path)'") }
        let parts = path.split(separator: "/").map(String.init).filter { $0 != "." }
        if parts.contains("..") { throw refuse(entry, "\(what) '\(path)' contains '..'") }
        return parts.isEmpty ? nil : parts
    }

    /// Makes sure every parent of `parts` is a real directory under root (creating missing ones).
    private func prepareParents(_ parts: [String], entry: String, create: Bool) throws -> String {
        var cur = root
        for p in parts.dropLast() {
            cur += "/" + p
            var st = stat()
            if lstat(cur, &st) != 0 {
                guard create else { throw refuse(entry, "'\(cur.dropFirst(root.count + 1))' does not exist") }
                if mkdir(cur, 0o755) != 0 { throw ArchiveError.io(path: cur, what: "cannot create directory", errno: errno) }
                continue
            }
            switch st.st_mode & S_IFMT {
            case S_IFDIR: continue
            case S_IFLNK: throw refuse(entry, "would write through symlink '\(cur.dropFirst(root.count + 1))'")
            default: throw refuse(entry, "parent '\(cur.dropFirst(root.count + 1))' is not a directory")
            }
        }
        return cur + "/" + parts.last!
    }

    /// Removes whatever non-directory is at `target` (never follows it).
    private func clear(_ target: String, entry: String, isDirectory: Bool) throws -> Bool {
        var st = stat()
        guard lstat(target, &st) == 0 else { return false }
        if st.st_mode & S_IFMT == S_IFDIR {
            if isDirectory { return true }
            throw refuse(entry, "would replace directory '\(target.dropFirst(root.count + 1))'")
        }
        if unlink(target) != 0 { throw ArchiveError.io(path: target, what: "cannot replace", errno: errno) }
        return false
    }

    func extract(_ raw: RawEntry, _ h: ReadHandle) throws -> TarEntry? {
        let name = raw.path
        entriesSeen += 1
        if let cap = options.maxEntries, entriesSeen > cap { throw ArchiveError.tooManyEntries(archive: archive, entry: name, limit: cap) }
        guard let parts = try components(raw.path, entry: name) else { return nil }
        let type = raw.type
        if raw.hardlink == nil && type != 0o100000 && type != 0o040000 && type != 0o120000 && !options.allowDevices {
            throw refuse(name, "device node, fifo or socket (use allowDevices)")
        }
        if raw.perm & 0o6000 != 0 && !options.allowSetuid && type != 0o040000 {
            throw refuse(name, "setuid/setgid mode \(String(raw.perm, radix: 8)) (use allowSetuid)")
        }
        let target = try prepareParents(parts, entry: name, create: true)
        let mode = raw.perm & (options.allowSetuid ? 0o7777 : 0o1777)
        var entry = TarEntry(path: parts.joined(separator: "/"), kind: .file, mode: mode)
        entry.uid = raw.uid; entry.gid = raw.gid; entry.uname = raw.uname ?? ""; entry.gname = raw.gname ?? ""
        entry.mtime = raw.mtime

        if let link = raw.hardlink {
            guard let lp = try components(link, entry: name, what: "hardlink target") else {
                throw refuse(name, "hardlink to the destination root")
            }
            let src = try prepareParents(lp, entry: name, create: false)
            var st = stat()
            guard lstat(src, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
                throw refuse(name, "hardlink target '\(link)' is not a regular file extracted earlier")
            }
            _ = try clear(target, entry: name, isDirectory: false)
            if Foundation.link(src, target) != 0 { throw ArchiveError.io(path: target, what: "cannot hardlink", errno: errno) }
            entry.kind = .hardlink(target: lp.joined(separator: "/"))
            return entry
        }
        switch type {
        case 0o100000:
            _ = try clear(target, entry: name, isDirectory: false)
            let fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw ArchiveError.io(path: target, what: "cannot create", errno: errno) }
            defer { close(fd) }
            var total: Int64 = 0
            try h.readData { buf in
                try account(buf.count, entry: name)
                var off = 0
                while off < buf.count {
                    let n = write(fd, buf.baseAddress! + off, buf.count - off)
                    if n < 0 { if errno == EINTR { continue }; throw ArchiveError.io(path: target, what: "cannot write", errno: errno) }
                    off += n
                }
                total += Int64(buf.count)
            }
            try owner(fd: fd, path: nil, raw)
            fchmod(fd, mode_t(mode))
            var times = [timespec(tv_sec: time_t(raw.mtime), tv_nsec: 0), timespec(tv_sec: time_t(raw.mtime), tv_nsec: 0)]
            futimens(fd, &times)
            entry.size = total
        case 0o040000:
            if try !clear(target, entry: name, isDirectory: true) {
                if mkdir(target, 0o700) != 0 { throw ArchiveError.io(path: target, what: "cannot create directory", errno: errno) }
            }
            try owner(fd: nil, path: target, raw)
            directories.append((target, mode, raw.mtime))
            entry.kind = .directory
        case 0o120000:
            let dest = raw.symlink ?? ""
            try checkSymlink(dest, at: parts, entry: name)
            _ = try clear(target, entry: name, isDirectory: false)
            if symlink(dest, target) != 0 { throw ArchiveError.io(path: target, what: "cannot create symlink", errno: errno) }
            symlinks.append((parts, dest, name))
            try owner(fd: nil, path: target, raw)
            var times = [timespec(tv_sec: time_t(raw.mtime), tv_nsec: 0), timespec(tv_sec: time_t(raw.mtime), tv_nsec: 0)]
            utimensat(AT_FDCWD, target, &times, AT_SYMLINK_NOFOLLOW)
            entry.kind = .symlink(target: dest)
            entry.mode = 0o777
        default:   // devices and fifos, only with allowDevices
            _ = try clear(target, entry: name, isDirectory: false)
            if mknod(target, mode_t(type | mode), raw.rdev) != 0 { throw ArchiveError.io(path: target, what: "cannot mknod", errno: errno) }
            try owner(fd: nil, path: target, raw)
            return nil
        }
        return entry
    }

    private func owner(fd: Int32?, path: String?, _ raw: RawEntry) throws {
        guard options.preserveOwnership else { return }
        let r = fd.map { fchown($0, uid_t(raw.uid), gid_t(raw.gid)) } ?? lchown(path!, uid_t(raw.uid), gid_t(raw.gid))
        if r != 0 { throw ArchiveError.io(path: path ?? raw.path, what: "cannot change owner of", errno: errno) }
    }

    /// Resolves a symlink target the way the tree itself would (following symlinks already on
    /// disk, absolute targets from the destination root) and refuses it when it climbs out.
    func checkSymlink(_ dest: String, at parts: [String], entry: String) throws {
        if dest.isEmpty { throw refuse(entry, "empty symlink target") }
        if dest.hasPrefix("/") && !options.allowAbsoluteSymlinks { throw refuse(entry, "absolute symlink target '\(dest)'") }
        var stack = dest.hasPrefix("/") ? [] : Array(parts.dropLast())
        var todo = Array(dest.split(separator: "/").map(String.init).reversed())
        var expansions = 0
        while let c = todo.popLast() {
            if c == "." { continue }
            if c == ".." {
                if stack.isEmpty {
                    if dest.hasPrefix("/") { continue }   // "/.." is "/" inside the root
                    throw refuse(entry, "symlink target '\(dest)' points outside the destination")
                }
                stack.removeLast(); continue
            }
            stack.append(c)
            let host = root + "/" + stack.joined(separator: "/")
            var st = stat()
            if lstat(host, &st) == 0 && st.st_mode & S_IFMT == S_IFLNK {
                expansions += 1
                if expansions > 40 { throw refuse(entry, "symlink target '\(dest)' loops") }
                var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let n = readlink(host, &buf, Int(PATH_MAX))
                guard n > 0 else { continue }
                let t = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                stack.removeLast()
                if t.hasPrefix("/") { stack = [] }
                todo.append(contentsOf: t.split(separator: "/").map(String.init).reversed())
            }
        }
    }

    /// Counts `n` more bytes of file data; throws before the total would pass `maxTotalBytes`.
    private func account(_ n: Int, entry: String) throws {
        bytesWritten += Int64(n)
        if let cap = options.maxTotalBytes, bytesWritten > cap {
            throw ArchiveError.tooLarge(archive: archive, entry: entry, limit: cap)
        }
    }

    /// Re-resolves every symlink against the finished tree (entry order cannot hide an escape), then
    /// applies directory modes and times last (deepest first) so read-only dirs don't block children.
    func finish() throws {
        for l in symlinks where RootedFile.linkTarget(root + "/" + l.parts.joined(separator: "/")) == l.target {
            try checkSymlink(l.target, at: l.parts, entry: l.entry)
        }
        for d in directories.reversed() {
            chmod(d.path, mode_t(d.mode))
            var times = [timespec(tv_sec: time_t(d.mtime), tv_nsec: 0), timespec(tv_sec: time_t(d.mtime), tv_nsec: 0)]
            utimensat(AT_FDCWD, d.path, &times, AT_SYMLINK_NOFOLLOW)
        }
    }
}
