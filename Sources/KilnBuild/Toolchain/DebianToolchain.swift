import Foundation
import KilnCore
import KilnCrypto

/// A build root made from pinned Debian packages (`mmdebstrap --variant=buildd`), bootstrapped once,
/// cached under the out dir keyed by the digest of the lock that describes it, and reused.
///
/// - The packages come from apt's own configured sources (the host's `/etc/apt` files are handed to
///   mmdebstrap as its "mirror" arguments); kiln names no mirror host.
/// - The lock file (`recipes/toolchain/bookworm.lock`, committed) records every `.deb` the bootstrap
///   installed: name, version, architecture and the file's sha256. Debian's archive moves (it keeps
///   only the current version of a package), so the archive may resolve something else later: that
///   is *drift*, reported and handled by `ToolchainBootstrap` (the root is then described by the
///   *resolved* lock, whose digest is the root's identity), or refused with `--frozen`.
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
    /// Every package the bootstrap installed (including those purged afterwards): name → "version architecture".
    public var packages: [String: String]
    /// sha256 (hex) of each package's `.deb`, by name, where the lock records it.
    public var digests: [String: String]

    /// (Relative to the kiln repository's root; libraries never fall back to it — the CLI resolves it.)
    public static let defaultLockPath = "recipes/toolchain/bookworm.lock"
    public static let defaultInclude = ["autoconf", "automake", "file", "libtool", "pkg-config"]
    public static let defaultRemove = ["libssl3"]

    /// A toolchain description; `packages` and `digests` are empty until resolved.
    public init(suite: String = "bookworm", variant: String = "buildd",
                include: [String] = DebianToolchain.defaultInclude,
                remove: [String] = DebianToolchain.defaultRemove,
                packages: [String: String] = [:], digests: [String: String] = [:]) {
        self.suite = suite; self.variant = variant; self.include = include; self.remove = remove
        self.packages = packages; self.digests = digests
    }

    /// Name used in logs and build results (`debian-bookworm`).
    public var name: String { "debian-\(suite)" }

    /// The packages that stay in the root after the purge of `remove`: name → "version architecture".
    public var installedPackages: [String: String] {
        packages.filter { !remove.contains($0.key) }
    }

    /// The same request (suite, variant, include, remove) with no resolution.
    public var request: DebianToolchain {
        DebianToolchain(suite: suite, variant: variant, include: include, remove: remove)
    }

    // MARK: lock file

    /// The lock file's text: sorted, one fact per line, no timestamps (its digest keys the cache).
    public func lockText() -> String {
        var s = "# kiln toolchain lock: Debian \(suite) build root (mmdebstrap --variant=\(variant)).\n"
        s += "# Made by `kiln toolchain bootstrap --update-lock` (make toolchain-lock); commit it.\n"
        s += "# One line per .deb installed: package NAME VERSION ARCH SHA256. The root's identity is this text's sha256.\n"
        s += "suite \(suite)\n"
        s += "variant \(variant)\n"
        s += "include \(include.sorted().joined(separator: " "))\n"
        s += "remove \(remove.sorted().joined(separator: " "))\n"
        for name in packages.keys.sorted() {
            s += "package \(name) \(packages[name]!)" + (digests[name].map { " \($0)" } ?? "") + "\n"
        }
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
            case "package" where f.count == 4 || f.count == 5:
                guard isPackageName(f[1]), isVersion(f[2]), isPackageName(f[3]) else {
                    throw KilnMessage("\(loc): '\(f[1]) \(f[2]) \(f[3])' is not a Debian package name, version and architecture; regenerate the lock with `make toolchain-lock`")
                }
                t.packages[f[1]] = "\(f[2]) \(f[3])"
                if f.count == 5 {
                    guard isSHA256(f[4].lowercased()) else {
                        throw KilnMessage("\(loc): '\(f[4])' is not a sha256 (64 hex digits); regenerate the lock with `make toolchain-lock`")
                    }
                    t.digests[f[1]] = f[4].lowercased()
                }
            default:
                throw KilnMessage("\(loc): cannot read toolchain lock line '\(line)' (expected suite|variant|include|remove|package NAME VERSION ARCH [SHA256]); regenerate it with `make toolchain-lock`")
            }
        }
        guard sawSuite else { throw KilnMessage("\(file): toolchain lock has no 'suite' line; regenerate it with `make toolchain-lock`") }
        return t
    }

    /// Debian's package-name syntax (also used for architectures): `[a-z0-9][a-z0-9+.-]+`.
    public static func isPackageName(_ s: String) -> Bool {
        s.count >= 2 && s.count <= 128 && s.first.map { $0.isASCII && ($0.isLowercase || $0.isNumber) } == true
            && s.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || "+.-".contains($0)) }
    }

    /// Debian's version syntax (`[epoch:]upstream[-revision]`, characters `A-Za-z0-9.+~:-`), never a path.
    public static func isVersion(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 128 && s.first.map { $0.isASCII && $0.isNumber } == true
            && s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || ".+~:-".contains($0)) }
    }

    /// 64 lowercase hex digits.
    public static func isSHA256(_ s: String) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// Reads and parses a lock file; returns it with the sha256 of its bytes (the root's identity).
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

    /// The cached root for this lock file, if it was bootstrapped earlier: exactly as it pins it, or
    /// (with `followingDrift`) the root it resolved to when the archive had moved.
    public static func cached(lockPath: String, outDir: String, followingDrift: Bool = false) throws -> Toolchain? {
        let (t, digest) = try load(lockPath: lockPath)
        let store = ToolchainStore(outDir: outDir)
        if let exact = store.root(suite: t.suite, digest: digest) { return exact }
        guard followingDrift, let resolved = store.resolvedDigest(forCommitted: digest) else { return nil }
        return store.root(suite: t.suite, digest: resolved)
    }

    /// The cached root, bootstrapping it first when missing (`ToolchainBootstrap` with its defaults:
    /// drift is reported, not fatal, unless `mode` is `.frozen`).
    public static func ensure(lockPath: String, outDir: String, mode: LockMode = .resolve,
                              progress: KilnCore.Progress = .shared) throws -> Toolchain {
        try ToolchainBootstrap(lockPath: lockPath, outDir: outDir, mode: mode, progress: progress).ensure()
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

    /// What moved between two resolutions, sorted by package name.
    public static func drift(from locked: [String: String], to resolved: [String: String]) -> [ToolchainDrift] {
        Set(locked.keys).union(resolved.keys).sorted().compactMap { k in
            locked[k] == resolved[k] ? nil : ToolchainDrift(package: k, locked: locked[k], now: resolved[k])
        }
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}
