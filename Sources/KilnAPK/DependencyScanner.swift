import Foundation
import KilnArchive

/// Automatic dependencies like melange's SCA (pkg/sca/sca.go), computed from the package tree:
/// - ELF objects: `PT_INTERP` → `depend = so:<basename>` (`ld-musl` → `libc.musl`); `DT_NEEDED`
///   containing `.so.` → `depend = so:<lib>`; `DT_SONAME` of a shared object directly in a lib dir
///   (`lib/`, `usr/lib/`, `lib64/`, `usr/lib64/`, and Debian's multiarch `lib/<triplet>/`,
///   `usr/lib/<triplet>/` where the imported C runtime lives) → `provides = so:<soname>=<libver>`.
/// - Executable regular files directly in `bin/ sbin/ usr/bin/ usr/sbin/` → `provides = cmd:<name>=<pkgver>`.
/// - `.pc` files in the pkg-config dirs → `provides = pc:<name>=<pkgver>`, and their `Requires` /
///   `Requires.private` → `depend = pc:<name>`.
/// - `#!` scripts under `bin/` and `usr/bin/` → `depend = cmd:<interpreter>` (`sh`, `python3`,
///   `python`, `awk` are skipped as melange does; `/usr/bin/env X` uses X).
/// Depends satisfied by the package's own provides are dropped. Options turn parts off.
public enum DependencyScanner {
    /// One path of the package tree.
    public struct File: Sendable {
        public enum Kind: Sendable, Equatable { case regular, symlink(String), directory, other }
        public var path: String       // relative, e.g. usr/bin/x
        public var kind: Kind
        public var mode: UInt32
        public var diskPath: String   // where to read the contents
        public init(path: String, kind: Kind, mode: UInt32, diskPath: String) {
            self.path = path; self.kind = kind; self.mode = mode; self.diskPath = diskPath
        }
    }

    public struct Result: Equatable, Sendable {
        public var depends: [String] = []
        public var provides: [String] = []
        public init(depends: [String] = [], provides: [String] = []) { self.depends = depends; self.provides = provides }
    }

    static let libDirs: Set<String> = ["lib", "usr/lib", "lib64", "usr/lib64"]

    /// A lib dir, or a multiarch one below `lib/` or `usr/lib/` (`x86_64-linux-gnu`, ...).
    public static func isLibDir(_ dir: String) -> Bool {
        if libDirs.contains(dir) { return true }
        for prefix in ["lib/", "usr/lib/"] where dir.hasPrefix(prefix) {
            let rest = dir.dropFirst(prefix.count)
            if !rest.contains("/") && rest.hasSuffix("-linux-gnu") { return true }
        }
        return false
    }
    static let binDirs: Set<String> = ["bin", "sbin", "usr/bin", "usr/sbin"]
    static let pcDirs: Set<String> = ["usr/local/lib/pkgconfig", "usr/local/share/pkgconfig", "usr/lib/pkgconfig",
                                      "usr/lib64/pkgconfig", "usr/share/pkgconfig"]
    static let ignoredInterpreters: Set<String> = ["python3", "python", "sh", "awk"]

    static func dirname(_ p: String) -> String {
        guard let i = p.lastIndex(of: "/") else { return "" }
        return String(p[..<i])
    }
    static func basename(_ p: String) -> String {
        guard let i = p.lastIndex(of: "/") else { return p }
        return String(p[p.index(after: i)...])
    }

    /// `libfoo.so.1.2` → `1.2`; anything not numeric → `0` (melange `sonameLibver`).
    public static func sonameLibver(_ soname: String) -> String {
        guard let r = soname.range(of: ".so.") else { return "0" }
        let v = soname[r.upperBound...]
        if v.isEmpty || !v.allSatisfy({ $0 == "." || $0.isASCII && $0.isNumber }) { return "0" }
        return String(v)
    }

    /// Scans `files` for a package whose full version (`pkgver`) is `fullVersion`.
    public static func scan(_ files: [File], fullVersion: String, options: PackageSpec.Options) -> Result {
        var depends = Set<String>(), provides = Set<String>()
        for f in files {
            guard case .regular = f.kind else { continue }
            let dir = dirname(f.path), base = basename(f.path)
            // ELF
            if let elf = ELFInfo.parse(path: f.diskPath) {
                if let interp = elf.interpreter, !interp.isEmpty {
                    var dep = "so:" + basename(interp)
                    if dep.hasPrefix("so:ld-musl") { dep = "so:libc.musl" + dep.dropFirst("so:ld-musl".count) }
                    depends.insert(dep)
                }
                for lib in elf.needed where lib.contains(".so.") { depends.insert("so:" + lib) }
                if elf.interpreter == nil || base.contains(".so."), let soname = elf.soname, isLibDir(dir) {
                    provides.insert("so:\(soname)=\(sonameLibver(soname))")
                }
            } else if dir == "bin" || dir.hasPrefix("bin/") || dir == "usr/bin" || dir.hasPrefix("usr/bin/") {
                if let interp = shebangInterpreter(path: f.diskPath) { depends.insert("cmd:" + interp) }
            }
            // Commands
            if f.mode & 0o555 == 0o555, binDirs.contains(dir) {
                provides.insert("cmd:\(base)=\(fullVersion)")
            }
            // pkg-config
            if base.hasSuffix(".pc"), pcDirs.contains(dir) {
                let pcName = String(base.dropLast(3))
                provides.insert("pc:\(pcName)=\(fullVersion)")
                if let text = try? String(contentsOfFile: f.diskPath, encoding: .utf8) {
                    for req in pkgConfigRequires(text) { depends.insert("pc:" + req) }
                }
            }
        }
        if options.noCommands {
            depends = depends.filter { !$0.hasPrefix("cmd:") }
            provides = provides.filter { !$0.hasPrefix("cmd:") }
        }
        // Drop depends the package satisfies itself.
        let providedNames = Set(provides.map { p in p.split(separator: "=", maxSplits: 1).first.map(String.init) ?? p })
        depends = depends.filter { !providedNames.contains($0) }
        var r = Result()
        r.depends = options.noDepends ? [] : depends.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        r.provides = options.noProvides ? [] : provides.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        return r
    }

    /// The interpreter command of a `#!` script (basename), or nil (not a script, or an ignored one).
    public static func shebangInterpreter(path: String) -> String? {
        guard let fh = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? fh.close() }
        guard let head = try? fh.read(upToCount: 256) else { return nil }
        return shebangInterpreter(head)
    }

    public static func shebangInterpreter(_ head: Data) -> String? {
        guard head.count >= 3, head.prefix(2).elementsEqual([0x23, 0x21]) else { return nil }
        var line = head.dropFirst(2)
        if let nl = line.firstIndex(of: 0x0a) { line = line[..<nl] }
        let toks = String(decoding: line, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
        guard var bin = toks.first else { return nil }
        if basename(bin) == "env" {
            var rest = Array(toks.dropFirst())
            if rest.first == "-S" { rest.removeFirst() }
            while let f = rest.first, f.hasPrefix("-") || f.contains("=") { rest.removeFirst() }
            guard let prog = rest.first else { return nil }
            bin = prog
        }
        let name = basename(bin)
        guard !name.isEmpty, !ignoredInterpreters.contains(name) else { return nil }
        return name
    }

    /// Package names from `Requires:` and `Requires.private:` of a pkg-config file (versions dropped).
    public static func pkgConfigRequires(_ text: String) -> [String] {
        var names: [String] = []
        // Join continuation lines.
        let joined = text.replacingOccurrences(of: "\\\n", with: " ")
        for rawLine in joined.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            var value: Substring?
            for key in ["Requires:", "Requires.private:"] where line.hasPrefix(key) {
                value = line.dropFirst(key.count)
            }
            guard let value else { continue }
            let toks = value.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" }).map(String.init)
            var i = 0
            while i < toks.count {
                let t = toks[i]
                if ["<", ">", "=", "<=", ">=", "!=", "=="].contains(t) { i += 2; continue }
                if !t.contains("$") { names.append(t) }
                i += 1
            }
        }
        return names
    }
}
