import Foundation
import KilnCore

/// What `kiln apk info` shows about one package: its JSON shape and its text rendering.
public struct APKPackageReport: Codable, Sendable {
    /// One entry of the data member.
    public struct FileInfo: Codable, Sendable {
        public var path: String, type: String, mode: String, uid: Int, gid: Int, uname: String, gname: String
        public var size: Int64, sha1: String?, target: String?
    }
    public var file: String, fileSize: Int, checksum: String, datahash: String
    public var signatures: [String], trustedKey: String?
    public var pkginfo: PkgInfo
    public var scripts: [String]
    public var files: [FileInfo]

    /// The report of package `p` read from `file`.
    public init(_ p: APKPackage, file: String) {
        self.file = file
        fileSize = p.fileSize
        checksum = p.checksum
        datahash = p.dataHash
        signatures = p.signatures.map { ".SIGN.\($0.type).\($0.keyName)" }
        trustedKey = p.trustedKey
        pkginfo = p.info
        scripts = p.scripts.keys.sorted()
        files = p.entries.map { e in
            FileInfo(path: e.path, type: Self.typeName(e.kind), mode: String(format: "%04o", e.mode), uid: e.uid, gid: e.gid,
                     uname: e.uname, gname: e.gname, size: e.size, sha1: p.checksumSHA1(of: e), target: e.linkTarget)
        }
    }

    /// The entry kind as `kiln apk info` names it.
    static func typeName(_ kind: APKTarEntry.Kind) -> String {
        switch kind {
        case .file: return "file"
        case .directory: return "dir"
        case .symlink: return "symlink"
        case .hardlink: return "hardlink"
        case .characterDevice: return "chardev"
        case .blockDevice: return "blockdev"
        case .fifo: return "fifo"
        case .other(let flag): return "typeflag \(flag)"
        }
    }

    /// Pretty, sorted-key JSON.
    public func json() throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try enc.encode(self), as: UTF8.self)
    }

    /// The text lines (with `listFiles`, one more per entry).
    public func lines(listFiles: Bool) -> [String] {
        let i = pkginfo
        var out = ["\(i.pkgname)-\(i.pkgver) (\(i.arch))", "  description: \(i.pkgdesc)"]
        if !i.url.isEmpty { out.append("  url:         \(i.url)") }
        out.append("  license:     \(i.license)")
        if let o = i.origin { out.append("  origin:      \(o)") }
        if let m = i.maintainer { out.append("  maintainer:  \(m)") }
        if let c = i.commit { out.append("  commit:      \(c)") }
        out.append("  build date:  \(i.builddate) (\(SourceDateEpoch.rfc3339(i.builddate)))")
        out.append("  installed:   \(i.size) bytes; file \(fileSize) bytes")
        out.append("  checksum:    \(checksum)")
        out.append("  datahash:    \(datahash)")
        out.append("  signatures:  \(signatures.joined(separator: ", "))"
                   + (trustedKey.map { " (trusted: \($0))" } ?? " (NOT verified: no trusted key; use `kiln apk verify --key`)"))
        if !i.depends.isEmpty { out.append("  depends:     \(i.depends.joined(separator: " "))") }
        if !i.provides.isEmpty { out.append("  provides:    \(i.provides.joined(separator: " "))") }
        if !i.replaces.isEmpty { out.append("  replaces:    \(i.replaces.joined(separator: " "))") }
        if !i.installIf.isEmpty { out.append("  install_if:  \(i.installIf.joined(separator: " "))") }
        if !scripts.isEmpty { out.append("  scripts:     \(scripts.joined(separator: " "))") }
        out.append("  entries:     \(files.count)")
        if listFiles {
            for f in files { out.append("    \(f.mode) \(f.uname):\(f.gname) \(f.type) \(f.path)" + (f.target.map { " -> \($0)" } ?? "")) }
        }
        return out
    }
}

extension APKKeyring {
    /// The keys of `files` and of the key directories `directories`; with neither, `defaultDirectory`
    /// when it exists (`kiln apk verify`'s `./keys`).
    public init(files: [String], directories: [String], defaultDirectory: String?) throws {
        self.init()
        var dirs = directories
        if files.isEmpty && directories.isEmpty, let d = defaultDirectory, FileManager.default.fileExists(atPath: d) { dirs = [d] }
        for d in dirs {
            for (n, k) in try APKKeyring(directory: d).keys { add(name: n, key: k) }
        }
        for f in files { try add(path: f) }
    }
}
