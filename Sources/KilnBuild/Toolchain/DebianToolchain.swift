import Foundation
import KilnCore
import KilnCrypto

/// A build root made from pinned Debian packages (`mmdebstrap --variant=buildd`), bootstrapped once,
/// cached under the out dir keyed by the digest of its lock file, and reused.
///
/// - The packages come from apt's own configured sources (the host's `/etc/apt` files are handed to
///   mmdebstrap as its "mirror" arguments); kiln names no mirror host.
/// - The lock file (`recipes/toolchain/bookworm.lock`, committed) records every resolved package and
///   version (`dpkg-query -W` inside the root). A bootstrap that resolves anything else fails unless the
///   lock is being updated on purpose, so the root is pinned: same lock ⇒ same packages.
/// - Hermeticity: the root holds **no OpenSSL** — no headers (libssl-dev is never installed) and no
///   libraries: `libssl3` (pulled in only by libkrb5 ← libtirpc ← libc6-dev; no tool in the root links
///   it) is purged after the bootstrap, and the root is scanned to prove it. A recipe in this root can
///   only link kiln's own OpenSSL packages, never the host's.
public struct DebianToolchain: Sendable, Equatable {
    public var suite: String
    public var variant: String
    /// Packages added to the variant's set (`--include`).
    public var include: [String]
    /// Packages purged from the root after the bootstrap (`dpkg --purge --force-depends`).
    public var remove: [String]
    /// Resolved packages: name → "version architecture".
    public var packages: [String: String]

    public static let defaultLockPath = "recipes/toolchain/bookworm.lock"
    public static let defaultInclude = ["autoconf", "automake", "file", "libtool", "pkg-config"]
    public static let defaultRemove = ["libssl3"]

    public init(suite: String = "bookworm", variant: String = "buildd",
                include: [String] = DebianToolchain.defaultInclude,
                remove: [String] = DebianToolchain.defaultRemove,
                packages: [String: String] = [:]) {
        self.suite = suite; self.variant = variant; self.include = include; self.remove = remove
        self.packages = packages
    }

    /// Name used in logs and build results (`debian-bookworm`).
    public var name: String { "debian-\(suite)" }

    // MARK: lock file

    /// The lock file's text: sorted, one fact per line, no timestamps (its digest keys the cache).
    public func lockText() -> String {
        var s = "# kiln toolchain lock: Debian \(suite) build root (mmdebstrap --variant=\(variant)).\n"
        s += "# Made by `kiln toolchain bootstrap --update-lock` (make toolchain-lock); commit it.\n"
        s += "# Packages come from apt's configured sources; the root's cache is keyed by this file's sha256.\n"
        s += "suite \(suite)\n"
        s += "variant \(variant)\n"
        s += "include \(include.sorted().joined(separator: " "))\n"
        s += "remove \(remove.sorted().joined(separator: " "))\n"
        for name in packages.keys.sorted() { s += "package \(name) \(packages[name]!)\n" }
        return s
    }

    /// Parses a lock file; errors name the file and line.
    public static func parseLock(_ text: String, file: String) throws -> DebianToolchain {
        var t = DebianToolchain(include: [], remove: [])
        var sawSuite = false
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let f = line.split(separator: " ").map(String.init)
            let loc = SourceLocation(file: file, line: i + 1)
            switch f[0] {
            case "suite" where f.count == 2: t.suite = f[1]; sawSuite = true
            case "variant" where f.count == 2: t.variant = f[1]
            case "include": t.include = Array(f.dropFirst())
            case "remove": t.remove = Array(f.dropFirst())
            case "package" where f.count == 4: t.packages[f[1]] = "\(f[2]) \(f[3])"
            default:
                throw KilnMessage("\(loc): cannot read toolchain lock line '\(line)' (expected suite|variant|include|remove|package NAME VERSION ARCH); regenerate it with `make toolchain-lock`")
            }
        }
        guard sawSuite else { throw KilnMessage("\(file): toolchain lock has no 'suite' line; regenerate it with `make toolchain-lock`") }
        return t
    }

    public static func load(lockPath: String) throws -> (toolchain: DebianToolchain, digest: String) {
        guard let data = FileManager.default.contents(atPath: lockPath) else {
            throw KilnMessage("\(lockPath): toolchain lock not found; create it with `make toolchain-lock` (kiln toolchain bootstrap --update-lock)")
        }
        let t = try parseLock(String(decoding: data, as: UTF8.self), file: lockPath)
        return (t, try Digest.sha256Hex(data))
    }

    // MARK: cache

    /// `<out>/toolchain/debian-<suite>-<first 16 hex of the lock digest>`.
    public static func cacheDirectory(outDir: String, suite: String, digest: String) -> String {
        "\(outDir)/toolchain/debian-\(suite)-\(digest.prefix(16))"
    }

    static let stampName = "kiln-toolchain.lock"

    /// The cached root for this lock, if it was completely bootstrapped earlier (no work done).
    public static func cached(lockPath: String, outDir: String) throws -> Toolchain? {
        let (t, digest) = try load(lockPath: lockPath)
        let dir = cacheDirectory(outDir: outDir, suite: t.suite, digest: digest)
        guard FileManager.default.fileExists(atPath: "\(dir)/\(stampName)"),
              FileManager.default.fileExists(atPath: "\(dir)/root/bin/sh") else { return nil }
        return Toolchain(name: t.name, rootPath: absolute("\(dir)/root"), lockDigest: digest)
    }

    /// The cached root, bootstrapping it first when missing. With `updateLock`, the lock file is
    /// (re)written from what the archive resolves today; without it, a different resolution is an error.
    public static func ensure(lockPath: String, outDir: String, updateLock: Bool = false,
                              progress: KilnCore.Progress = .shared) throws -> Toolchain {
        let fm = FileManager.default
        if !updateLock, let t = try cached(lockPath: lockPath, outDir: outDir) {
            progress.log("toolchain: reusing \(t.name) root \(t.rootPath)")
            return t
        }
        var spec = DebianToolchain()
        if fm.fileExists(atPath: lockPath) {
            spec = try load(lockPath: lockPath).toolchain
        } else if !updateLock {
            throw KilnMessage("\(lockPath): toolchain lock not found; create it with `make toolchain-lock` (kiln toolchain bootstrap --update-lock)")
        }
        let work = "\(outDir)/toolchain/.bootstrap-\(getpid())"
        try? fm.removeItem(atPath: work)
        try fm.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: work) }
        let root = "\(work)/root"
        let started = Date()
        progress.log("toolchain: bootstrapping Debian \(spec.suite) (\(spec.variant) + \(spec.include.joined(separator: ","))) with mmdebstrap — takes a few minutes, once")
        let sources = try aptSourceFiles()
        var args = ["--variant=\(spec.variant)", "--include=\(spec.include.joined(separator: ","))", "--quiet"]
        for pkg in spec.remove.sorted() {
            args.append("--customize-hook=chroot \"$1\" dpkg --purge --force-depends \(pkg)")
        }
        // The chroot's own apt sources and caches are not part of a build root.
        args.append("--customize-hook=rm -rf \"$1\"/etc/apt/sources.list.d/* \"$1\"/var/cache/apt/* \"$1\"/var/lib/apt/lists/*")
        args += [spec.suite, root] + sources
        let log = "\(work)/mmdebstrap.log"
        let r = try Subprocess("mmdebstrap", args, logFile: log).run()
        guard r.succeeded else {
            let tail = (try? String(contentsOfFile: log, encoding: .utf8))?.split(separator: "\n").suffix(15).joined(separator: "\n") ?? ""
            throw KilnMessage("mmdebstrap failed (exit \(r.status)) bootstrapping the \(spec.suite) toolchain; is apt working (`apt-get update`)?\n\(tail)")
        }
        spec.packages = try resolvedPackages(root: root)
        try checkNoOpenSSL(root: root)

        let lockedBefore = fm.fileExists(atPath: lockPath) ? try load(lockPath: lockPath).toolchain : nil
        if let locked = lockedBefore, !updateLock, locked.packages != spec.packages {
            throw KilnMessage("\(lockPath): the archive now resolves a different \(spec.suite) toolchain than the lock pins:\n"
                              + diff(locked.packages, spec.packages).prefix(20).joined(separator: "\n")
                              + "\nRun `make toolchain-lock` to accept the new versions, review and commit the lock.")
        }
        if updateLock || lockedBefore == nil {
            try AtomicFile.write(spec.lockText(), to: lockPath)
            progress.log("toolchain: wrote \(lockPath) (\(spec.packages.count) packages) — review and commit it")
        }
        guard let lockData = fm.contents(atPath: lockPath) else { throw KilnMessage("\(lockPath): cannot read the toolchain lock") }
        let digest = try Digest.sha256Hex(lockData)
        let dir = cacheDirectory(outDir: outDir, suite: spec.suite, digest: digest)
        try AtomicFile.replaceDirectory(dir) { tmp in
            try AtomicFile.rename(root, to: "\(tmp)/root")
            try AtomicFile.write(lockData, to: "\(tmp)/\(stampName)")
        }
        progress.log("toolchain: \(spec.name) root ready in \(KilnCore.Progress.format(Date().timeIntervalSince(started))): \(spec.packages.count) packages, no OpenSSL, lock sha256 \(digest.prefix(16))")
        return Toolchain(name: spec.name, rootPath: absolute("\(dir)/root"), lockDigest: digest)
    }

    /// apt's configured sources on this machine (deb822 `.sources` and one-line `.list` files),
    /// passed to mmdebstrap as files so that the root comes from the same archive apt uses.
    public static func aptSourceFiles(etcApt: String = "/etc/apt") throws -> [String] {
        var files: [String] = []
        let fm = FileManager.default
        if let s = try? String(contentsOfFile: "\(etcApt)/sources.list", encoding: .utf8),
           s.split(separator: "\n").contains(where: { $0.hasPrefix("deb ") }) {
            files.append("\(etcApt)/sources.list")
        }
        let d = "\(etcApt)/sources.list.d"
        for f in ((try? fm.contentsOfDirectory(atPath: d)) ?? []).sorted()
        where f.hasSuffix(".sources") || f.hasSuffix(".list") {
            let text = (try? String(contentsOfFile: "\(d)/\(f)", encoding: .utf8)) ?? ""
            // Only Debian archive entries that carry binary packages.
            if text.contains("debian-archive-keyring") || text.contains("/debian") { files.append("\(d)/\(f)") }
        }
        guard !files.isEmpty else {
            throw KilnMessage("\(etcApt)/sources.list.d: no apt sources for the Debian archive are configured; kiln bootstraps its toolchain from apt's sources")
        }
        return files
    }

    /// `dpkg-query -W` over the root's package database: name → "version arch".
    public static func resolvedPackages(root: String) throws -> [String: String] {
        let r = try Subprocess("dpkg-query", ["--admindir=\(root)/var/lib/dpkg", "-W",
                                              "-f=${db:Status-Abbrev} ${Package} ${Version} ${Architecture}\n"]).check()
        var out: [String: String] = [:]
        for line in r.stdoutString.split(separator: "\n") {
            let f = line.split(separator: " ").map(String.init)
            guard f.count == 4, f[0].hasPrefix("ii") else { continue }
            out[f[1]] = "\(f[2]) \(f[3])"
        }
        return out
    }

    /// Fails when any OpenSSL header or library is present in the root.
    public static func checkNoOpenSSL(root: String) throws {
        let found = openSSLFiles(root: root)
        guard found.isEmpty else {
            throw KilnMessage("toolchain root \(root) contains OpenSSL files, which would let a recipe link an OpenSSL other than kiln's: \(found.prefix(5).joined(separator: ", "))")
        }
    }

    /// OpenSSL headers/libraries/modules in a root (relative paths, sorted).
    public static func openSSLFiles(root: String) -> [String] {
        var found: [String] = []
        let fm = FileManager.default
        for top in ["usr/include", "usr/lib", "usr/local", "lib", "lib64", "usr/lib64"] {
            guard let e = fm.enumerator(atPath: "\(root)/\(top)") else { continue }
            while let rel = e.nextObject() as? String {
                let base = (rel as NSString).lastPathComponent
                if base.hasPrefix("libssl.so") || base.hasPrefix("libcrypto.so") || base == "libssl.a" || base == "libcrypto.a"
                    || base == "opensslv.h" || base == "ossl-modules" {
                    found.append("\(top)/\(rel)")
                }
            }
        }
        return found.sorted()
    }

    static func diff(_ a: [String: String], _ b: [String: String]) -> [String] {
        Set(a.keys).union(b.keys).sorted().compactMap { k in
            a[k] == b[k] ? nil : "  \(k): \(a[k] ?? "(absent)") -> \(b[k] ?? "(absent)")"
        }
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}
