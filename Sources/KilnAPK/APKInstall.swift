import Foundation
import KilnCore

/// Resolving names against a kiln repository index and unpacking verified packages into a
/// directory (used to lay kiln-built build-time packages over a toolchain root).
public enum APKInstall {
    /// The record that satisfies `name`: the `Solver`'s first choice (a package of that name,
    /// newest first, else providers by provider_priority, version, name).
    public static func candidate(for name: String, in records: [APKIndexRecord]) -> APKIndexRecord? {
        solver(records).best(for: APKDependency(name: name))?.record
    }

    static func solver(_ records: [APKIndexRecord]) -> Solver {
        Solver(records: records.map { APKRepositoryPackage(record: $0) })
    }

    /// `names` and, transitively, their depends that the index can satisfy (others — including
    /// constraints no indexed version meets — are left to the toolchain root and returned as
    /// `unresolved`). Each record once, dependencies first. Choices are the `Solver`'s.
    public static func resolve(_ names: [String], in records: [APKIndexRecord]) -> (records: [APKIndexRecord], unresolved: [String]) {
        var out: [APKIndexRecord] = []
        var seen = Set<String>()          // "name-version"
        var unresolved: [String] = []
        var visiting = Set<String>()
        let solver = solver(records)
        func visit(_ dep: String) {
            guard let n = DependencyAtom.name(of: dep) else { return }
            // Version constraints count, as in images; an unparsable atom is looked up by name.
            guard let r = solver.best(for: APKDependency.parse(dep) ?? APKDependency(name: n))?.record else {
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

    /// Reads and verifies the .apk at `path` (signature against `options.keyring`, hashes, per-file
    /// checksums) and writes its data entries under `destination` (`kiln apk extract`).
    @discardableResult
    public static func extract(path: String, options: APKVerifyOptions, to destination: String) throws -> APKPackage {
        let pkg = try APKReader.read(path: path, options: options)
        try extract(pkg, to: destination)
        return pkg
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
