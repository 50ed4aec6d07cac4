import Foundation
import KilnAPK
import KilnArchive
import KilnAttest
import KilnOCI

/// An image's unpacked root, in memory: every layer read in order with whiteouts applied (by
/// KilnAttest's `ImageContents`, blobs digest-checked), nothing written to disk, nothing executed.
/// Paths are relative, without a leading `/`; symlinks are resolved inside the root only.
public struct ImageRoot: Sendable {
    /// The files, directories and links of the root.
    public let contents: ImageContents
    /// Path → owning package, from the installed database.
    public let owners: [String: String]
    /// The installed packages (empty when there is no database).
    public let packages: [APKIndexRecord]
    /// Every directory (explicit or implied by a path under it).
    let directories: Set<String>

    /// Reads manifest `d` of `layout`.
    public init(layout: OCILayout, manifest d: OCIDescriptor) throws {
        contents = try ImageContents.read(layout: layout, manifest: d, keep: { _ in true })
        var dirs: Set<String> = [""]
        for (p, f) in contents.files {
            if case .directory = f.kind { dirs.insert(p) }
            var q = p
            while let slash = q.lastIndex(of: "/") { q = String(q[..<slash]); if !dirs.insert(q).inserted { break } }
        }
        directories = dirs
        if let db = contents.files[ImageContents.installedDB], case .file = db.kind {
            let text = String(decoding: db.data, as: UTF8.self)
            owners = APKIndex.installedFileOwners(text)
            packages = (try? APKIndex.parseInstalledDatabase(text, file: "/" + ImageContents.installedDB)) ?? []
        } else {
            owners = [:]; packages = []
        }
    }

    /// The image config's `Env` as a dictionary.
    public var environment: [String: String] {
        var out: [String: String] = [:]
        for e in contents.config["config"]?["Env"]?.array ?? [] {
            guard let s = e.string, let eq = s.firstIndex(of: "=") else { continue }
            out[String(s[..<eq])] = String(s[s.index(after: eq)...])
        }
        return out
    }

    /// Regular files (hard links included) with their bytes, sorted by path.
    public var regularFiles: [(path: String, data: Data)] {
        contents.files.compactMap { p, f -> (String, Data)? in
            switch f.kind {
            case .file, .hardlink: return (p, f.data)
            default: return nil
            }
        }.sorted { $0.0 < $1.0 }
    }

    /// The owner of the file a path resolves to (or of the path itself).
    public func owner(_ path: String) -> String? { owners[path] ?? resolve(path).flatMap { owners[$0] } }

    /// Whether `path` (after resolving links) is a directory of the image.
    public func isDirectory(_ path: String) -> Bool { resolve(path).map { directories.contains($0) } ?? false }

    /// The bytes of the regular file `path` resolves to.
    public func data(_ path: String) -> Data? {
        guard let r = resolve(path), let f = contents.files[r] else { return nil }
        switch f.kind {
        case .file, .hardlink: return f.data
        default: return nil
        }
    }

    /// Resolves `path` (absolute or relative to the root) through the image's symlinks, component
    /// by component, never leaving the root (`..` at the root stays at the root, as the kernel does
    /// inside a chroot). Nil when a component is missing or there are more than 40 links.
    public func resolve(_ path: String) -> String? {
        var pending = ImageRoot.components(path)
        var cur: [String] = []
        var hops = 0
        while !pending.isEmpty {
            let c = pending.removeFirst()
            if c == "." || c.isEmpty { continue }
            if c == ".." { _ = cur.popLast(); continue }
            cur.append(c)
            let joined = cur.joined(separator: "/")
            guard let f = contents.files[joined] else {
                if directories.contains(joined) { continue }
                return nil
            }
            if case let .symlink(t) = f.kind {
                hops += 1
                if hops > 40 { return nil }
                cur.removeLast()
                if t.hasPrefix("/") { cur = [] }
                pending = ImageRoot.components(t) + pending
            }
        }
        return cur.joined(separator: "/")
    }

    static func components(_ p: String) -> [String] { p.split(separator: "/").map(String.init) }

    /// Joins and normalises `a/b` lexically (`..` clamped at the root), no leading `/`.
    static func join(_ dir: String, _ name: String) -> String {
        var out: [String] = []
        for c in components(name.hasPrefix("/") ? name : dir + "/" + name) {
            if c == "." || c.isEmpty { continue }
            if c == ".." { _ = out.popLast(); continue }
            out.append(c)
        }
        return out.joined(separator: "/")
    }

    /// The directory part of an image path.
    static func dirname(_ p: String) -> String { p.lastIndex(of: "/").map { String(p[..<$0]) } ?? "" }
    /// The last component of an image path.
    static func basename(_ p: String) -> String { p.lastIndex(of: "/").map { String(p[p.index(after: $0)...]) } ?? p }
}
