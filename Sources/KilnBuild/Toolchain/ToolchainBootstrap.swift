import Foundation
import KilnCore
import KilnCrypto

/// How a bootstrap treats a committed lock the archive no longer matches.
public enum LockMode: String, Sendable {
    /// Resolve what the archive has now; drift is printed and recorded, the root described by the
    /// resolved lock (the default).
    case resolve
    /// Exactly the committed lock, from the source cache or the archive; any package that can be had
    /// from neither is an error naming it (release builds, `kiln repro`, `KILN_FROZEN=1`).
    case frozen
    /// Resolve and rewrite the committed lock (`--update-lock`, `make toolchain-lock`).
    case update

    /// `.frozen` when `KILN_FROZEN=1` is set, else `self`.
    public func honouringEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) -> LockMode {
        env["KILN_FROZEN"] == "1" && self == .resolve ? .frozen : self
    }
}

/// One package whose resolution moved: locked → now (nil: absent on that side).
public struct ToolchainDrift: Sendable, Equatable, CustomStringConvertible {
    /// Package name.
    public var package: String
    /// "version arch" in the committed lock.
    public var locked: String?
    /// "version arch" the archive resolves now.
    public var now: String?

    public var description: String { "\(package): \(locked ?? "(absent)") -> \(now ?? "(absent)")" }

    /// The drift as an aligned table (package, locked, now), one row per package.
    public static func table(_ rows: [ToolchainDrift]) -> String {
        let w0 = max(7, rows.map(\.package.count).max() ?? 0)
        let w1 = max(6, rows.map { ($0.locked ?? "(absent)").count }.max() ?? 0)
        func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(0, w - s.count)) }
        var s = "  \(pad("package", w0))  \(pad("locked", w1))     now\n"
        for r in rows { s += "  \(pad(r.package, w0))  \(pad(r.locked ?? "(absent)", w1)) ->  \(r.now ?? "(absent)")\n" }
        return s
    }
}

/// A root the source cache and the archive cannot recreate (repro and `--frozen` exit 2 on it).
public struct ToolchainUnavailable: KilnError {
    /// The lock (file or digest) that describes the root.
    public var lock: String
    /// "name version arch" of each package that neither the cache nor the archive has.
    public var missing: [String]
    public var description: String {
        "the toolchain root described by \(lock) cannot be recreated: \(missing.count) package(s) are neither in the source cache nor in the archive:\n"
            + missing.prefix(30).map { "  \($0)" }.joined(separator: "\n")
            + "\nAdd their .deb files with `kiln source add FILE...`, or accept the archive's versions with `make toolchain-lock`."
    }
}

/// The cached roots under `<out>/toolchain/`: `debian-<suite>-<digest16>/{root,kiln-toolchain.lock}`
/// keyed by the digest of the lock text that describes the root, and `resolved/<committed digest>`
/// naming the root a committed lock resolved to when the archive had moved.
public struct ToolchainStore: Sendable {
    /// The out directory.
    public var outDir: String
    /// The store under `outDir`.
    public init(outDir: String) { self.outDir = outDir }

    static let stampName = "kiln-toolchain.lock"

    /// A complete cached root for that lock digest, or nil (also for anything that is not a sha256).
    public func root(suite: String, digest: String) -> Toolchain? {
        guard DebianToolchain.isSHA256(digest) else { return nil }
        let dir = DebianToolchain.cacheDirectory(outDir: outDir, suite: suite, digest: digest)
        guard let stamp = FileManager.default.contents(atPath: "\(dir)/\(Self.stampName)"),
              (try? Digest.sha256Hex(stamp)) == digest,
              FileManager.default.fileExists(atPath: "\(dir)/root/bin/sh") else { return nil }
        return Toolchain(name: "debian-\(suite)", rootPath: DebianToolchain.absolute("\(dir)/root"), lockDigest: digest)
    }

    /// The parsed lock of a cached root.
    public func lock(suite: String, digest: String) -> DebianToolchain? {
        lockText(suite: suite, digest: digest).flatMap { try? DebianToolchain.parseLock($0, file: "resolved lock \(digest.prefix(16))") }
    }

    /// The lock text of a cached root.
    public func lockText(suite: String, digest: String) -> String? {
        let dir = DebianToolchain.cacheDirectory(outDir: outDir, suite: suite, digest: digest)
        return (try? String(contentsOfFile: "\(dir)/\(Self.stampName)", encoding: .utf8))
    }

    func pointerPath(_ committed: String) -> String { "\(outDir)/toolchain/resolved/\(committed)" }

    /// The digest a committed lock resolved to last time, if recorded.
    public func resolvedDigest(forCommitted committed: String) -> String? {
        let text = (try? String(contentsOfFile: pointerPath(committed), encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        return text.flatMap { DebianToolchain.isSHA256($0) ? $0 : nil }
    }

    /// Records that the committed lock resolved to `resolved`.
    public func record(committed: String, resolved: String) throws {
        try FileManager.default.createDirectory(atPath: "\(outDir)/toolchain/resolved", withIntermediateDirectories: true)
        try AtomicFile.write(resolved + "\n", to: pointerPath(committed))
    }

    /// Moves a finished root into place under its lock's digest.
    func install(root: String, lockText: String, drift: [ToolchainDrift], suite: String) throws -> Toolchain {
        let data = Data(lockText.utf8)
        let digest = try Digest.sha256Hex(data)
        let dir = DebianToolchain.cacheDirectory(outDir: outDir, suite: suite, digest: digest)
        try AtomicFile.replaceDirectory(dir) { tmp in
            try AtomicFile.rename(root, to: "\(tmp)/root")
            if !drift.isEmpty { try AtomicFile.write(ToolchainDrift.table(drift), to: "\(tmp)/drift.txt") }
            try AtomicFile.write(data, to: "\(tmp)/\(Self.stampName)")
        }
        return Toolchain(name: "debian-\(suite)", rootPath: DebianToolchain.absolute("\(dir)/root"), lockDigest: digest)
    }
}

/// Makes (once) the Debian build root a lock describes, and reuses it.
///
/// - `.resolve` (default): the archive is asked with mmdebstrap; what it resolves is compared with the
///   committed lock, any drift printed as a table, and the root recorded under the digest of the
///   *resolved* lock (`kiln-toolchain.lock` beside it), which is what nightly input keys and package
///   provenance name. The committed file is left alone.
/// - `.frozen`: every locked `.deb` comes from the source cache (by sha256) or, if missing, from the
///   archive at exactly the locked version; the root is made offline from a flat repository of those
///   files; a package neither has is a `ToolchainUnavailable` error naming it.
/// - `.update`: like `.resolve`, then the committed lock is rewritten.
///
/// Every `.deb` a bootstrap installs is kept in the content-addressed source cache, and so is the
/// resolved lock text (by its sha256), so a root can be recreated offline from its digest alone.
public struct ToolchainBootstrap {
    /// The committed lock file.
    public var lockPath: String
    /// The out directory (roots under `<out>/toolchain/`).
    public var outDir: String
    /// Where `.deb` files and lock texts are kept (default `<out>/sources`).
    public var sourceCache: SourceCache
    /// How drift is treated.
    public var mode: LockMode
    /// The archive (a fake in tests).
    public var archive: any DebianArchive
    /// Progress lines.
    public var progress: KilnCore.Progress

    /// A bootstrap of the lock at `lockPath` into `outDir`.
    public init(lockPath: String, outDir: String, sourceCache: SourceCache? = nil, mode: LockMode = .resolve,
                archive: any DebianArchive = AptArchive(), progress: KilnCore.Progress = .shared) {
        self.lockPath = lockPath; self.outDir = outDir
        self.sourceCache = sourceCache ?? SourceCache(root: "\(outDir)/sources")
        self.mode = mode; self.archive = archive; self.progress = progress
    }

    var store: ToolchainStore { ToolchainStore(outDir: outDir) }

    /// The root: cached, else bootstrapped as `mode` says.
    public func ensure() throws -> Toolchain {
        let fm = FileManager.default
        let committed = fm.fileExists(atPath: lockPath) ? try DebianToolchain.load(lockPath: lockPath) : nil
        if committed == nil && mode != .update {
            throw KilnMessage("\(lockPath): toolchain lock not found; create it with `make toolchain-lock` (kiln toolchain bootstrap --update-lock)")
        }
        if let (lock, digest) = committed, mode != .update {
            if let t = store.root(suite: lock.suite, digest: digest) {
                progress.log("toolchain: reusing \(t.name) root \(t.rootPath)")
                return t
            }
            if mode == .resolve, let r = store.resolvedDigest(forCommitted: digest), let t = store.root(suite: lock.suite, digest: r) {
                let moved = store.lock(suite: lock.suite, digest: r).map { DebianToolchain.drift(from: lock.packages, to: $0.packages).count } ?? 0
                progress.log("toolchain: reusing \(t.name) root \(t.rootPath), resolved from \(lockPath) with \(moved) package(s) moved since the lock (lock sha256 \(r.prefix(16)); `make toolchain-lock` pins them)")
                return t
            }
            if mode == .frozen { return try recreate(lock, lockText: try String(contentsOfFile: lockPath, encoding: .utf8), name: lockPath) }
        }
        return try resolve(committed: committed)
    }

    /// Resolves the archive anew even when a root is cached (the nightly's `--update`), and returns the
    /// packages that moved since the root the committed lock resolved to last (or the lock itself).
    public func refresh() throws -> (Toolchain, [ToolchainDrift]) {
        guard mode != .frozen else {
            throw KilnMessage("picking up toolchain updates contradicts --frozen/KILN_FROZEN=1: the frozen root is exactly \(lockPath)")
        }
        let committed = try DebianToolchain.load(lockPath: lockPath)
        let lastDigest = store.resolvedDigest(forCommitted: committed.digest) ?? committed.digest
        let last = store.lock(suite: committed.toolchain.suite, digest: lastDigest) ?? committed.toolchain
        let t = try resolve(committed: committed)
        let now = store.lock(suite: committed.toolchain.suite, digest: t.lockDigest!) ?? committed.toolchain
        if t.lockDigest == committed.digest { try? FileManager.default.removeItem(atPath: store.pointerPath(committed.digest)) }
        return (t, DebianToolchain.drift(from: last.packages, to: now.packages))
    }

    /// Bootstraps from the archive as it is now; reports drift against the committed lock.
    func resolve(committed: (toolchain: DebianToolchain, digest: String)?) throws -> Toolchain {
        let request = committed?.toolchain.request ?? DebianToolchain()
        let started = Date()
        progress.log("toolchain: bootstrapping Debian \(request.suite) (\(request.variant) + \(request.include.joined(separator: ","))) with mmdebstrap — takes a few minutes, once")
        return try withWorkDirectory { work in
            try archive.bootstrap(request, root: "\(work)/root", debs: "\(work)/debs", localRepository: nil, log: "\(work)/mmdebstrap.log")
            var resolved = request
            for deb in try DebFile.all(in: "\(work)/debs") {
                resolved.packages[deb.package] = "\(deb.version) \(deb.arch)"
                resolved.digests[deb.package] = deb.sha256
                try sourceCache.addDeb(deb)
            }
            try check(root: "\(work)/root", against: resolved)
            let drift = committed.map { DebianToolchain.drift(from: $0.toolchain.packages, to: resolved.packages) } ?? []
            if !drift.isEmpty {
                progress.log("toolchain: the archive has moved since \(lockPath): \(drift.count) package(s) differ (building with what it has now; `--frozen` refuses this, `make toolchain-lock` pins it)\n"
                             + ToolchainDrift.table(drift))
            }
            let text = resolved.lockText()
            try keepLockText(text)
            if mode == .update || committed == nil {
                try AtomicFile.write(text, to: lockPath)
                progress.log("toolchain: wrote \(lockPath) (\(resolved.packages.count) packages) — review and commit it")
            }
            let t = try store.install(root: "\(work)/root", lockText: text, drift: drift, suite: request.suite)
            if let c = committed, c.digest != t.lockDigest { try store.record(committed: c.digest, resolved: t.lockDigest!) }
            progress.log("toolchain: \(t.name) root ready in \(KilnCore.Progress.format(Date().timeIntervalSince(started))): \(resolved.packages.count) packages, no OpenSSL, lock sha256 \(t.lockDigest!.prefix(16))")
            return t
        }
    }

    /// Makes exactly the root `lock` describes from cached (or still published) `.deb` files, offline.
    public func recreate(_ lock: DebianToolchain, lockText: String, name: String) throws -> Toolchain {
        return try withWorkDirectory { work in
            try FileManager.default.createDirectory(atPath: "\(work)/download", withIntermediateDirectories: true)
            var debs: [DebFile] = [], missing: [String] = [], fetched = 0
            for pkg in lock.packages.keys.sorted() {
                let f = lock.packages[pkg]!.split(separator: " ").map(String.init)
                let (version, arch) = (f[0], f.count > 1 ? f[1] : "amd64")
                var path = sourceCache.cachedDeb(package: pkg, version: version, arch: arch, sha256: lock.digests[pkg])
                let fromArchive = path == nil
                if fromArchive { path = try archive.download(package: pkg, version: version, arch: arch, into: "\(work)/download") }
                guard let p = path else { missing.append("\(pkg) \(version) \(arch)"); continue }
                // One read per .deb: its control and digest must be what the lock says, wherever it came from.
                let deb = try DebFile.read(p)
                let origin = fromArchive ? "the archive's \(pkg) \(version)" : "source cache entry \(p)"
                guard deb.package == pkg, deb.version == version else {
                    throw KilnMessage("\(origin) is \(deb.package) \(deb.version), not \(pkg) \(version)" + (fromArchive ? "" : "; delete it"))
                }
                if let want = lock.digests[pkg], want != deb.sha256 {
                    throw KilnMessage(fromArchive
                        ? "\(name): \(pkg) \(version) from the archive has sha256 \(deb.sha256), the lock pins \(want); the archive republished it — run `make toolchain-lock`"
                        : "\(origin) is corrupt (sha256 \(deb.sha256), the lock pins \(want)); delete it")
                }
                if fromArchive { try sourceCache.addDeb(deb); fetched += 1 }
                debs.append(deb)
            }
            guard missing.isEmpty else { throw ToolchainUnavailable(lock: name, missing: missing) }
            progress.log("toolchain: recreating the \(lock.suite) root of \(name) exactly (frozen) from \(debs.count) cached packages (\(fetched) fetched now), offline")
            try DebFile.writeFlatRepository(debs, suite: lock.suite, to: "\(work)/repo")
            // Every locked package by name: the variant's own selection (?priority(required)) reads the
            // archive's priority overrides, which a .deb's own control does not carry.
            var request = lock.request
            request.include = lock.installedPackages.keys.sorted()
            try archive.bootstrap(request, root: "\(work)/root", debs: "\(work)/debs", localRepository: DebianToolchain.absolute("\(work)/repo"),
                                  log: "\(work)/mmdebstrap.log")
            try check(root: "\(work)/root", against: lock)
            try keepLockText(lockText)
            let t = try store.install(root: "\(work)/root", lockText: lockText, drift: [], suite: lock.suite)
            progress.log("toolchain: \(t.name) root recreated: \(lock.packages.count) packages, lock sha256 \(t.lockDigest!.prefix(16))")
            return t
        }
    }

    /// The root a package's provenance names by lock digest: cached, else recreated from the lock text
    /// kept in the source cache. `ToolchainUnavailable` when it cannot be had.
    public func root(forDigest digest: String, suite: String = "bookworm") throws -> Toolchain {
        guard DebianToolchain.isSHA256(digest) else {
            throw KilnMessage("'\(digest.prefix(80))' is not a toolchain lock digest (64 lowercase hex digits); the build result that records it is damaged — rebuild the package")
        }
        if let t = store.root(suite: suite, digest: digest) { return t }
        let path = sourceCache.path(sha256: digest)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ToolchainUnavailable(lock: "lock sha256 \(digest)", missing: ["the lock text itself (not in the source cache \(sourceCache.root))"])
        }
        guard try Digest.sha256Hex(data) == digest else {
            throw KilnMessage("source cache entry \(path) does not hash to its name (a corrupt lock text); delete it and rebuild the package")
        }
        let text = String(decoding: data, as: UTF8.self)
        return try recreate(try DebianToolchain.parseLock(text, file: path), lockText: text, name: "lock sha256 \(digest.prefix(16))")
    }

    /// The root holds exactly the lock's packages (less those purged) and no OpenSSL.
    func check(root: String, against lock: DebianToolchain) throws {
        let got = try DebianToolchain.resolvedPackages(root: root)
        let want = lock.installedPackages
        guard got == want else {
            throw KilnMessage("the bootstrapped root does not hold what its packages say: "
                              + DebianToolchain.drift(from: want, to: got).prefix(10).map(\.description).joined(separator: "; "))
        }
        try DebianToolchain.checkNoOpenSSL(root: root)
    }

    /// The lock text into the source cache, by its sha256, so `root(forDigest:)` can find it later.
    func keepLockText(_ text: String) throws {
        let tmp = "\(outDir)/toolchain/.lock-\(getpid())"
        try FileManager.default.createDirectory(atPath: "\(outDir)/toolchain", withIntermediateDirectories: true)
        try AtomicFile.write(text, to: tmp)
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        try sourceCache.add(file: tmp)
    }

    func withWorkDirectory<T>(_ body: (String) throws -> T) throws -> T {
        let work = DebianToolchain.absolute("\(outDir)/toolchain/.bootstrap-\(getpid())")
        try? FileManager.default.removeItem(atPath: work)
        try FileManager.default.createDirectory(atPath: "\(work)/debs", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        return try body(work)
    }
}
