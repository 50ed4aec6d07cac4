import Foundation
import KilnArchive

/// Walks a package tree into data-member entries: byte-sorted relative paths, directories,
/// regular files (streamed from disk), symlinks, and hardlinks (the first path in sorted order of
/// an inode is the file, the others link to it). Owner root:root; devices, fifos and sockets are
/// refused (they do not belong in a package built without privileges).
enum PackageTree {
    static func entries(root: String) throws -> [TarEntry] {
        var out: [TarEntry] = []
        var paths: [String] = []
        func walk(_ rel: String) throws {
            let dir = rel.isEmpty ? root : root + "/" + rel
            let names: [String]
            do { names = try FileManager.default.contentsOfDirectory(atPath: dir) } catch {
                throw APKError.io("cannot read directory \(dir): \(error.localizedDescription)")
            }
            for n in names {
                let r = rel.isEmpty ? n : rel + "/" + n
                paths.append(r)
                var st = stat()
                if lstat(root + "/" + r, &st) == 0, st.st_mode & S_IFMT == S_IFDIR { try walk(r) }
            }
        }
        try walk("")
        paths.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var inodes: [String: String] = [:]
        for r in paths {
            let p = root + "/" + r
            var st = stat()
            guard lstat(p, &st) == 0 else {
                throw APKError.io("cannot stat \(p): \(String(cString: strerror(errno)))")
            }
            let mode = UInt32(st.st_mode) & 0o7777
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                out.append(TarEntry(path: r, kind: .directory, mode: mode))
            case S_IFLNK:
                let target: String
                do { target = try FileManager.default.destinationOfSymbolicLink(atPath: p) } catch {
                    throw APKError.io("cannot read symlink \(p): \(error.localizedDescription)")
                }
                out.append(TarEntry(path: r, kind: .symlink(target: target), mode: 0o777))
            case S_IFREG:
                let id = "\(st.st_dev):\(st.st_ino)"
                if st.st_nlink > 1, let first = inodes[id] {
                    out.append(TarEntry(path: r, kind: .hardlink(target: first), mode: mode))
                } else {
                    if st.st_nlink > 1 { inodes[id] = r }
                    out.append(TarEntry(path: r, kind: .file, mode: mode, content: .file(path: p), size: Int64(st.st_size)))
                }
            default:
                throw APKError.invalidSpec("\(p): devices, fifos and sockets cannot go into a package")
            }
        }
        return out
    }
}
