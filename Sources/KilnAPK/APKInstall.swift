import Foundation
import KilnCore

/// Resolving names against a kiln repository index and unpacking verified packages into a
/// directory (used to lay kiln-built build-time packages over a toolchain root).
public enum APKInstall {
    /// `foo>=1.2` → `foo`; `so:libx.so.1=1` → `so:libx.so.1`; `!foo` → nil (a conflict, not a need).
    public static func dependencyName(_ dep: String) -> String? {
        if dep.hasPrefix("!") { return nil }
        let stop = dep.firstIndex { "<>=~".contains($0) } ?? dep.endIndex
        let n = String(dep[..<stop])
        return n.isEmpty ? nil : n
    }

    /// The record that satisfies `name`: a package of that name (highest version), else the
    /// provider with the highest provider_priority, then version.
    public static func candidate(for name: String, in records: [APKIndexRecord]) -> APKIndexRecord? {
        let direct = records.filter { $0.name == name }
        if let best = direct.max(by: { compareVersions($0.version, $1.version) < 0 }) { return best }
        let providers = records.filter { r in r.provides.contains { dependencyName($0) == name } }
        return providers.max { a, b in
            let pa = a.providerPriority ?? 0, pb = b.providerPriority ?? 0
            if pa != pb { return pa < pb }
            return compareVersions(a.version, b.version) < 0
        }
    }

    /// `names` and, transitively, their depends that the index can satisfy (others are left to the
    /// toolchain root and returned as `unresolved`). Each record once, dependencies first.
    public static func resolve(_ names: [String], in records: [APKIndexRecord]) -> (records: [APKIndexRecord], unresolved: [String]) {
        var out: [APKIndexRecord] = []
        var seen = Set<String>()          // "name-version"
        var unresolved: [String] = []
        var visiting = Set<String>()
        func visit(_ dep: String) {
            guard let n = dependencyName(dep) else { return }
            guard let r = candidate(for: n, in: records) else {
                if !unresolved.contains(n) { unresolved.append(n) }
                return
            }
            let id = r.name + "-" + r.version
            if seen.contains(id) || visiting.contains(id) { return }
            visiting.insert(id)
            for d in r.depends { visit(d) }
            visiting.remove(id)
            seen.insert(id)
            out.append(r)
        }
        for n in names { visit(n) }
        return (out, unresolved)
    }

    /// apk-style version order (digits numerically, then a letter, `_alpha … _rc` < none < `_cvs … _p`,
    /// then `-rN`). Returns <0, 0, >0.
    public static func compareVersions(_ a: String, _ b: String) -> Int {
        struct V { var nums: [Int] = []; var letter = 0; var suffixes: [(Int, Int)] = []; var hash = ""; var rel = 0 }
        let ranks = ["alpha": 0, "beta": 1, "pre": 2, "rc": 3, "cvs": 5, "svn": 6, "git": 7, "hg": 8, "p": 9]
        func parse(_ s: String) -> V {
            var v = V()
            var rest = Substring(s)
            if let r = rest.range(of: "-r", options: .backwards), let n = Int(rest[r.upperBound...]) { v.rel = n; rest = rest[..<r.lowerBound] }
            if let t = rest.firstIndex(of: "~") { v.hash = String(rest[rest.index(after: t)...]); rest = rest[..<t] }
            let parts = rest.split(separator: "_", omittingEmptySubsequences: false)
            var head = Substring(parts.first ?? "")
            if let last = head.last, last.isLetter { v.letter = Int(last.asciiValue ?? 0); head = head.dropLast() }
            v.nums = head.split(separator: ".").map { Int($0) ?? 0 }
            for p in parts.dropFirst() {
                let name = p.prefix { $0.isLetter }
                v.suffixes.append((ranks[String(name)] ?? 4, Int(p.dropFirst(name.count)) ?? 0))
            }
            return v
        }
        let x = parse(a), y = parse(b)
        for i in 0..<max(x.nums.count, y.nums.count) {
            let p = i < x.nums.count ? x.nums[i] : -1, q = i < y.nums.count ? y.nums[i] : -1
            if p != q { return p < q ? -1 : 1 }
        }
        if x.letter != y.letter { return x.letter < y.letter ? -1 : 1 }
        for i in 0..<max(x.suffixes.count, y.suffixes.count) {
            let p = i < x.suffixes.count ? x.suffixes[i] : (4, 0), q = i < y.suffixes.count ? y.suffixes[i] : (4, 0)
            if p.0 != q.0 { return p.0 < q.0 ? -1 : 1 }
            if p.1 != q.1 { return p.1 < q.1 ? -1 : 1 }
        }
        if x.hash != y.hash { return x.hash < y.hash ? -1 : 1 }
        if x.rel != y.rel { return x.rel < y.rel ? -1 : 1 }
        return 0
    }

    /// Writes the data entries of a verified package under `destination` (created if needed).
    /// Paths must be relative without `..`; nothing is written through a symlink; devices are
    /// refused; owners are not applied (the sandbox maps everything to root).
    public static func extract(_ pkg: APKPackage, to destination: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: destination, withIntermediateDirectories: true)
        func fail(_ path: String, _ why: String) -> APKError { .malformed(file: pkg.file, "\(path): \(why)") }
        for e in pkg.entries {
            let comps = e.path.split(separator: "/", omittingEmptySubsequences: true)
            guard !e.path.hasPrefix("/"), !comps.isEmpty, !comps.contains(where: { $0 == ".." || $0 == "." }) else {
                throw fail(e.path, "unsafe path")
            }
            // No parent may be a symlink (or anything but a directory).
            var parent = destination
            for c in comps.dropLast() {
                parent += "/" + c
                var st = stat()
                if lstat(parent, &st) == 0 {
                    guard st.st_mode & S_IFMT == S_IFDIR else { throw fail(e.path, "parent \(c) is not a directory") }
                } else {
                    try fm.createDirectory(atPath: parent, withIntermediateDirectories: false)
                }
            }
            let target = destination + "/" + e.path
            var st = stat()
            let exists = lstat(target, &st) == 0
            switch e.kind {
            case .directory:
                if exists {
                    guard st.st_mode & S_IFMT == S_IFDIR else { throw fail(e.path, "exists and is not a directory") }
                } else {
                    try fm.createDirectory(atPath: target, withIntermediateDirectories: false)
                }
                chmod(target, mode_t(e.mode & 0o7777))
            case .file:
                if exists { try fm.removeItem(atPath: target) }
                guard fm.createFile(atPath: target, contents: e.data) else { throw APKError.io("cannot write \(target)") }
                chmod(target, mode_t(e.mode & 0o7777))
            case .symlink:
                if exists { try fm.removeItem(atPath: target) }
                try fm.createSymbolicLink(atPath: target, withDestinationPath: e.linkTarget ?? "")
            case .hardlink:
                guard let t = e.linkTarget, !t.hasPrefix("/"), !t.split(separator: "/").contains("..") else {
                    throw fail(e.path, "unsafe hardlink target")
                }
                if exists { try fm.removeItem(atPath: target) }
                try fm.linkItem(atPath: destination + "/" + t, toPath: target)
            default:
                throw fail(e.path, "devices and fifos are not extracted")
            }
        }
    }
}
