import Foundation
import KilnAPK
import KilnArchive
import KilnCore
import KilnCrypto

/// Where a regular file's bytes are: in memory, or in a spill file under the output directory
/// (package contents larger than the in-memory limit; the layer writer streams them back).
public enum FileContent: Sendable, Equatable {
    case inline(Data)
    case spilled(path: String, size: Int64)

    /// The byte count.
    public var size: Int64 {
        switch self {
        case .inline(let d): return Int64(d.count)
        case .spilled(_, let n): return n
        }
    }

    /// Whether both hold the same bytes (spill files are compared a chunk at a time); a spill file
    /// that cannot be opened or read is an error naming it, never "equal" or "empty".
    func sameBytes(_ o: FileContent) throws -> Bool {
        switch (self, o) {
        case let (.inline(a), .inline(b)): return a == b
        case let (.spilled(p, _), .spilled(q, _)) where p == q: return true
        default:
            guard size == o.size else { return false }
            let a = try ChunkReader(self), b = try ChunkReader(o)
            while true {
                let x = try a.next(), y = try b.next()
                if x != y { return false }
                if x.isEmpty { return true }
            }
        }
    }

    /// Reads content in 1 MiB pieces (an empty piece at the end).
    private final class ChunkReader {
        let handle: FileHandle?
        let path: String
        var inline: Data?
        init(_ c: FileContent) throws {
            switch c {
            case .inline(let d): handle = nil; inline = d; path = "<memory>"
            case .spilled(let p, _):
                guard let h = FileHandle(forReadingAtPath: p) else { throw FileContent.unreadable(p, "cannot open it") }
                handle = h; path = p
            }
        }
        deinit { try? handle?.close() }
        func next() throws -> Data {
            if let d = inline { let piece = d.prefix(1 << 20); inline = d.count > piece.count ? d.dropFirst(piece.count) : Data(); return Data(piece) }
            guard let handle else { return Data() }
            do { return try handle.read(upToCount: 1 << 20) ?? Data() } catch {
                throw FileContent.unreadable(path, "\(error.localizedDescription)")
            }
        }
    }

    /// The error for a spill file that cannot be read back.
    static func unreadable(_ path: String, _ why: String) -> KilnMessage {
        KilnMessage("cannot read back \(path), the spilled copy of an image file (\(why); was the output directory changed during the build?)")
    }
}

/// One file-system object of the image being assembled (metadata in memory; large package files'
/// bytes in spill files, see `FileContent`; nothing touches the host).
public struct FSNode: Sendable {
    public enum Kind: Sendable, Equatable { case file, directory, symlink(String), hardlink(String) }
    public var kind: Kind
    public var mode: UInt32
    public var uid = 0, gid = 0
    public var uname = "root", gname = "root"
    /// A regular file's bytes.
    public var content = FileContent.inline(Data())
    /// A regular file's bytes in memory: kiln's own files and small package files are inline; a
    /// spilled file is read back (use this only for small, known files such as etc/passwd), and a
    /// spill file that cannot be read is an error, never empty bytes.
    public func bytes() throws -> Data {
        switch content {
        case .inline(let d): return d
        case .spilled(let p, _):
            guard let d = FileManager.default.contents(atPath: p) else {
                throw KilnMessage("cannot read back \(p), the spilled copy of an image file (was the output directory changed during the build?)")
            }
            return d
        }
    }

    /// Replaces a regular file's bytes (inline from then on).
    public mutating func setBytes(_ d: Data) { content = .inline(d) }
    public var xattrs: [String: Data] = [:]
    /// Hex SHA-1 apk records for files and symlinks (`Z:` in the installed database).
    public var sha1: String?
    /// The package that installed this path (nil for directories made implicitly or by kiln).
    public var owner: String?

    public init(kind: Kind, mode: UInt32, data: Data = Data(), owner: String? = nil) {
        self.kind = kind; self.mode = mode; self.content = .inline(data); self.owner = owner
    }

    /// A node whose bytes are `content`.
    public init(kind: Kind, mode: UInt32, content: FileContent, owner: String? = nil) {
        self.kind = kind; self.mode = mode; self.content = content; self.owner = owner
    }

    /// SHA-1 of a regular file's bytes (streamed from a spill file), hex.
    func contentSHA1() throws -> String {
        switch content {
        case .inline(let d): return try Digest.hash(.sha1, d).hexString
        case .spilled(let p, _): return try Digest.hashFile(.sha1, path: p).hexString
        }
    }

    /// "regular file", "directory", "symlink" or "hardlink", for messages.
    var kindName: String {
        switch kind {
        case .file: return "regular file"
        case .directory: return "directory"
        case .symlink: return "symlink"
        case .hardlink: return "hardlink"
        }
    }

    /// Same bytes in a layer (owner and checksum bookkeeping aside); a spill file that cannot be
    /// read back is an error.
    func sameContent(_ o: FSNode) throws -> Bool {
        try kind == o.kind && mode == o.mode && uid == o.uid && gid == o.gid && uname == o.uname && gname == o.gname
            && xattrs == o.xattrs && content.sameBytes(o.content)
    }

    func tarEntry(path: String) -> TarEntry {
        var e: TarEntry
        switch kind {
        case .file:
            switch content {
            case .inline(let d): e = TarEntry(path: path, kind: .file, mode: mode, content: .data(d), size: Int64(d.count))
            case .spilled(let p, let n): e = TarEntry(path: path, kind: .file, mode: mode, content: .file(path: p), size: n)
            }
        case .directory: e = TarEntry(path: path, kind: .directory, mode: mode)
        case .symlink(let t): e = TarEntry(path: path, kind: .symlink(target: t), mode: mode)
        case .hardlink(let t): e = TarEntry(path: path, kind: .hardlink(target: t), mode: mode)
        }
        e.uid = uid; e.gid = gid; e.uname = uname; e.gname = gname; e.xattrs = xattrs
        return e
    }
}

public struct InstallError: KilnError {
    public var message: String
    public var description: String { message }
}

/// The image's file system, built in memory from package data members and kiln's own files.
/// Paths are normalised and resolved inside the image root (symlinked parents are followed
/// within the root, `..` can never leave it), so no package can write outside the image.
public struct ImageTree {
    public private(set) var nodes: [String: FSNode] = [:]
    /// Per package: the paths it installed, in install order.
    public private(set) var owned: [String: [String]] = [:]

    public init() {}

    /// Splits and normalises a path; `..` and absolute paths are refused (packages carry relative paths).
    static func components(_ raw: String, what: String) throws -> [String] {
        var out: [String] = []
        for c in raw.split(separator: "/", omittingEmptySubsequences: true) {
            if c == "." { continue }
            if c == ".." { throw InstallError(message: "\(what): unsafe path '\(raw)' (contains ..); refusing to install it") }
            out.append(String(c))
        }
        return out
    }

    /// Resolves the parent directories of `comps` inside the root, following symlinks (as a
    /// chroot would: `..` stops at `/`, absolute targets start at the image root).
    func resolveParent(_ comps: [String], what: String) throws -> [String] {
        var resolved: [String] = []
        var pending = Array(comps.dropLast())
        var hops = 0
        while !pending.isEmpty {
            let c = pending.removeFirst()
            if c == "." || c.isEmpty { continue }
            if c == ".." { if !resolved.isEmpty { resolved.removeLast() }; continue }
            let p = (resolved + [c]).joined(separator: "/")
            if let n = nodes[p], case .symlink(let target) = n.kind {
                hops += 1
                if hops > 40 { throw InstallError(message: "\(what): too many symlinks resolving '\(comps.joined(separator: "/"))'") }
                let t = target.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
                if target.hasPrefix("/") { resolved = [] }
                pending = t + pending
                continue
            }
            resolved.append(c)
        }
        return resolved + (comps.last.map { [$0] } ?? [])
    }

    mutating func ensureParents(_ comps: [String]) {
        var cur = ""
        for c in comps.dropLast() {
            cur = cur.isEmpty ? c : cur + "/" + c
            if nodes[cur] == nil { nodes[cur] = FSNode(kind: .directory, mode: 0o755) }
        }
    }

    /// Installs one package's data entries with their contents beside them.
    public mutating func install(package: String, entries: [(entry: TarEntry, data: Data)]) throws {
        try install(package: package, entries: entries.map { e, d in
            var t = e
            if t.kind == .file { t.content = .data(d); t.size = Int64(d.count) }
            return t
        })
    }

    /// Installs one package's data entries; a file's bytes are its `content` (`.data` in memory,
    /// `.file` a spill file the tree refers to and never copies).
    public mutating func install(package: String, entries: [TarEntry]) throws {
        for e in entries {
            let what = "package \(package)"
            let comps = try ImageTree.components(e.path, what: what)
            if comps.isEmpty { continue }
            let real = try resolveParent(comps, what: what)
            let path = real.joined(separator: "/")
            var node: FSNode
            switch e.kind {
            case .file:
                let content: FileContent
                switch e.content {
                case .data(let d): content = .inline(d)
                case .file(let p): content = .spilled(path: p, size: e.size)
                case .none: content = .inline(Data())
                }
                node = FSNode(kind: .file, mode: e.mode & 0o7777, content: content, owner: package)
            case .directory:
                node = FSNode(kind: .directory, mode: e.mode & 0o7777, owner: package)
            case .symlink(let t):
                node = FSNode(kind: .symlink(t), mode: 0o777, owner: package)
            case .hardlink(let t):
                let tc = try ImageTree.components(t, what: what)
                let tp = try resolveParent(tc, what: what).joined(separator: "/")
                guard let target = nodes[tp], target.kind == .file else {
                    throw InstallError(message: "\(what): hardlink \(path) points to \(t), which is not a regular file installed before it")
                }
                node = target
                node.owner = package
            }
            node.uid = e.uid; node.gid = e.gid; node.uname = e.uname; node.gname = e.gname
            node.xattrs = e.xattrs
            if let s = e.pax["APK-TOOLS.checksum.SHA1"] { node.sha1 = s.lowercased() }
            if node.sha1 == nil {
                switch node.kind {
                case .file: node.sha1 = try node.contentSHA1()
                case .symlink(let t): node.sha1 = try Digest.hash(.sha1, Data(t.utf8)).hexString
                default: break
                }
            }
            if let existing = nodes[path] {
                if existing.kind == .directory && node.kind == .directory {
                    if existing.owner == nil { nodes[path] = node }
                    owned[package, default: []].append(path)
                    continue
                }
                if let o = existing.owner, o != package, try !existing.sameContent(node) {
                    throw InstallError(message: "\(what): trying to overwrite \(path) owned by \(o); the two packages conflict (remove one from the image or fix the recipes)")
                }
            }
            try checkParentsAreDirectories(real, path: path, what: what)
            if let existing = nodes[path], existing.kind == .directory, node.kind != .directory,
               nodes.keys.contains(where: { $0.hasPrefix(path + "/") }) {
                throw InstallError(message: "\(what): \(path) is a directory with entries in the image; refusing to replace it with a \(node.kindName)")
            }
            ensureParents(real)
            nodes[path] = node
            owned[package, default: []].append(path)
        }
    }

    /// Every existing parent of `comps` must be a directory: a path under a regular file (even from
    /// another package or layer) is an impossible tree, refused naming both paths.
    func checkParentsAreDirectories(_ comps: [String], path: String, what: String) throws {
        var cur = ""
        for c in comps.dropLast() {
            cur = cur.isEmpty ? c : cur + "/" + c
            if let n = nodes[cur], n.kind != .directory {
                throw InstallError(message: "\(what): cannot install \(path): its parent \(cur) is a \(n.kindName)"
                                       + (n.owner.map { " installed by \($0)" } ?? "") + ", not a directory")
            }
        }
    }

    /// Adds or replaces a node kiln writes itself (passwd, os-release, apk database...).
    public mutating func put(_ path: String, _ node: FSNode) {
        let comps = path.split(separator: "/").map(String.init)
        ensureParents(comps)
        nodes[comps.joined(separator: "/")] = node
    }

    public mutating func setNode(_ path: String, _ node: FSNode) { nodes[path] = node }

    public func node(_ path: String) -> FSNode? {
        nodes[path.split(separator: "/").joined(separator: "/")]
    }

    /// Fills in SHA-1 checksums apk records for files and symlinks that came without one.
    public mutating func computeChecksums() throws {
        for (p, n) in nodes where n.sha1 == nil {
            switch n.kind {
            case .file, .hardlink: nodes[p]!.sha1 = try n.contentSHA1()
            case .symlink(let t): nodes[p]!.sha1 = try Digest.hash(.sha1, Data(t.utf8)).hexString
            case .directory: break
            }
        }
    }
}
