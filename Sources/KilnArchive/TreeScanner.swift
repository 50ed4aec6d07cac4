import CArchive
import Foundation

/// Walks a directory into TarEntries sorted by path (byte order): files as `.file(path:)` read
/// later from disk, symlinks, directories; a file seen again under another name (same dev+inode)
/// becomes a `.hardlink` to the first path in sort order. Modes come from disk; owner root:root.
public enum TreeScanner {
    public struct Options: Sendable {
        /// Keep numeric uid/gid from disk (names left empty) instead of root:root.
        public var preserveOwnership = false
        /// Record extended attributes (e.g. security.capability) as SCHILY.xattr.
        public var xattrs = false
        public init(preserveOwnership: Bool = false, xattrs: Bool = false) {
            self.preserveOwnership = preserveOwnership; self.xattrs = xattrs
        }
    }

    public static func entries(root: String) throws -> [TarEntry] {
        try entries(root: root, options: .init())
    }

    public static func entries(root: String, options: Options) throws -> [TarEntry] {
        var out: [TarEntry] = []
        var inodes: [String: (dev: UInt64, ino: UInt64)] = [:]
        try walk(root, rel: "", options: options, into: &out, inodes: &inodes)
        out.sort { TarEntry.pathPrecedes($0.path, $1.path) }
        var firstPath: [String: String] = [:]   // "dev:ino" -> first path in sort order
        for i in out.indices {
            guard let id = inodes[out[i].path] else { continue }
            let key = "\(id.dev):\(id.ino)"
            if let first = firstPath[key] {
                out[i].kind = .hardlink(target: first)
                out[i].content = .none
                out[i].size = 0
            } else {
                firstPath[key] = out[i].path
            }
        }
        return out
    }

    private static func walk(_ root: String, rel: String, options: Options, into out: inout [TarEntry],
                             inodes: inout [String: (dev: UInt64, ino: UInt64)]) throws {
        let dirPath = rel.isEmpty ? root : root + "/" + rel
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: dirPath) } catch {
            throw ArchiveError.io(path: dirPath, what: "cannot list", errno: errno == 0 ? EACCES : errno)
        }
        for name in names.sorted(by: TarEntry.pathPrecedes) {
            let relPath = rel.isEmpty ? name : rel + "/" + name
            let full = root + "/" + relPath
            var st = stat()
            guard lstat(full, &st) == 0 else { throw ArchiveError.io(path: full, what: "cannot stat", errno: errno) }
            let mode = UInt32(st.st_mode) & 0o7777
            var e: TarEntry
            switch st.st_mode & S_IFMT {
            case S_IFREG:
                e = TarEntry(path: relPath, kind: .file, mode: mode, content: .file(path: full), size: Int64(st.st_size))
                if st.st_nlink > 1 { inodes[relPath] = (UInt64(st.st_dev), UInt64(st.st_ino)) }
            case S_IFDIR:
                e = TarEntry(path: relPath, kind: .directory, mode: mode)
            case S_IFLNK:
                var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let n = readlink(full, &buf, Int(PATH_MAX))
                guard n >= 0 else { throw ArchiveError.io(path: full, what: "cannot read symlink", errno: errno) }
                e = TarEntry(path: relPath, kind: .symlink(target: String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)), mode: 0o777)
            default:
                throw ArchiveError.invalidEntry(path: full, reason: "device node, fifo or socket cannot be archived; remove it from the tree")
            }
            if options.preserveOwnership {
                e.uid = Int(st.st_uid); e.gid = Int(st.st_gid); e.uname = ""; e.gname = ""
            }
            if options.xattrs { e.xattrs = try readXattrs(full) }
            out.append(e)
            if st.st_mode & S_IFMT == S_IFDIR {
                try walk(root, rel: relPath, options: options, into: &out, inodes: &inodes)
            }
        }
    }

    static func readXattrs(_ path: String) throws -> [String: Data] {
        let size = llistxattr(path, nil, 0)
        guard size > 0 else { return [:] }
        var names = [CChar](repeating: 0, count: size)
        let n = llistxattr(path, &names, size)
        guard n > 0 else { return [:] }
        var out: [String: Data] = [:]
        for raw in names[0..<n].split(separator: 0) {
            let name = String(decoding: raw.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let vs = lgetxattr(path, name, nil, 0)
            guard vs >= 0 else { continue }
            var value = [UInt8](repeating: 0, count: vs)
            let got = lgetxattr(path, name, &value, vs)
            if got >= 0 { out[name] = Data(value[0..<got]) }
        }
        return out
    }
}
