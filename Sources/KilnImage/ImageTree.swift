import Foundation
import KilnAPK
import KilnArchive
import KilnCore
import KilnCrypto

/// One file-system object of the image being assembled (kept in memory; nothing touches the host).
public struct FSNode: Sendable {
    public enum Kind: Sendable, Equatable { case file, directory, symlink(String), hardlink(String) }
    public var kind: Kind
    public var mode: UInt32
    public var uid = 0, gid = 0
    public var uname = "root", gname = "root"
    public var data = Data()
    public var xattrs: [String: Data] = [:]
    /// Hex SHA-1 apk records for files and symlinks (`Z:` in the installed database).
    public var sha1: String?
    /// The package that installed this path (nil for directories made implicitly or by kiln).
    public var owner: String?

    public init(kind: Kind, mode: UInt32, data: Data = Data(), owner: String? = nil) {
        self.kind = kind; self.mode = mode; self.data = data; self.owner = owner
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

    /// Same bytes in a layer (owner and checksum bookkeeping aside).
    func sameContent(_ o: FSNode) -> Bool {
        kind == o.kind && mode == o.mode && uid == o.uid && gid == o.gid && uname == o.uname && gname == o.gname
            && data == o.data && xattrs == o.xattrs
    }

    func tarEntry(path: String) -> TarEntry {
        var e: TarEntry
        switch kind {
        case .file: e = TarEntry(path: path, kind: .file, mode: mode, content: .data(data), size: Int64(data.count))
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

    /// Installs one package's data entries.
    public mutating func install(package: String, entries: [(entry: TarEntry, data: Data)]) throws {
        for (e, data) in entries {
            let what = "package \(package)"
            let comps = try ImageTree.components(e.path, what: what)
            if comps.isEmpty { continue }
            let real = try resolveParent(comps, what: what)
            let path = real.joined(separator: "/")
            var node: FSNode
            switch e.kind {
            case .file:
                node = FSNode(kind: .file, mode: e.mode & 0o7777, data: data, owner: package)
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
                case .file: node.sha1 = try Digest.hash(.sha1, node.data).hexString
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
                if let o = existing.owner, o != package, !existing.sameContent(node) {
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
            case .file, .hardlink: nodes[p]!.sha1 = try Digest.hash(.sha1, n.data).hexString
            case .symlink(let t): nodes[p]!.sha1 = try Digest.hash(.sha1, Data(t.utf8)).hexString
            case .directory: break
            }
        }
    }
}
