import Foundation

/// One member of a tar archive, as written by `TarWriter` and returned by `ArchiveReader`.
public struct TarEntry: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case file, directory, symlink(target: String), hardlink(target: String)
    }
    public enum Content: Sendable, Equatable {
        case none, data(Data), file(path: String)   // file: streamed from disk when written
    }
    /// Relative, no leading "./" or "/"; directories without trailing "/".
    public var path: String
    public var kind: Kind
    /// Permission bits incl. setuid/setgid/sticky (no type bits), e.g. 0o755.
    public var mode: UInt32
    public var uid: Int = 0, gid: Int = 0
    public var uname: String = "root", gname: String = "root"
    /// nil: the writer's epoch.
    public var mtime: Int64? = nil
    /// Size of a `.file`; for `.data` content the data's count is used.
    public var size: Int64
    public var content: Content
    /// Custom PAX records, e.g. "APK-TOOLS.checksum.SHA1".
    public var pax: [String: String] = [:]
    public var xattrs: [String: Data] = [:]

    public init(path: String, kind: Kind, mode: UInt32, content: Content = .none, size: Int64 = 0) {
        self.path = path; self.kind = kind; self.mode = mode; self.content = content
        if case let .data(d) = content, size == 0 { self.size = Int64(d.count) } else { self.size = size }
    }

    /// Convenience: a regular file with in-memory contents.
    public static func file(_ path: String, _ data: Data, mode: UInt32 = 0o644) -> TarEntry {
        TarEntry(path: path, kind: .file, mode: mode, content: .data(data), size: Int64(data.count))
    }
    public static func directory(_ path: String, mode: UInt32 = 0o755) -> TarEntry {
        TarEntry(path: path, kind: .directory, mode: mode)
    }
    public static func symlink(_ path: String, to target: String) -> TarEntry {
        TarEntry(path: path, kind: .symlink(target: target), mode: 0o777)
    }

    /// Byte-order comparison of paths (not Swift's Unicode ordering), as `memcmp` over the UTF-8
    /// bytes: the generic `utf8.lexicographicallyPrecedes` was 11 % of `kiln index`'s CPU time
    /// sorting 1,000 file names, this is none of it.
    public static func pathPrecedes(_ a: String, _ b: String) -> Bool {
        var a = a, b = b
        return a.withUTF8 { x in
            b.withUTF8 { y in
                let n = min(x.count, y.count)
                let r = n == 0 ? 0 : memcmp(x.baseAddress!, y.baseAddress!, n)
                return r != 0 ? r < 0 : x.count < y.count
            }
        }
    }
}

extension TarStreamEntry {
    /// The entry as a `TarEntry` (content `.none`; path and hardlink target without `./` or a
    /// trailing `/`, as `ArchiveReader` returns them), or nil for devices, fifos and other types.
    public var tarEntry: TarEntry? {
        let kind: TarEntry.Kind
        switch self.kind {
        case .file: kind = .file
        case .directory: kind = .directory
        case .symlink: kind = .symlink(target: linkTarget ?? "")
        case .hardlink: kind = .hardlink(target: ArchiveReader.clean(linkTarget ?? ""))
        default: return nil
        }
        var t = TarEntry(path: ArchiveReader.clean(path), kind: kind, mode: mode, size: kind == .file ? size : 0)
        t.uid = uid; t.gid = gid; t.uname = uname; t.gname = gname
        t.mtime = mtime
        t.pax = pax
        t.xattrs = xattrs
        return t
    }
}
