import Foundation
import KilnCore

/// One binary package version the archive carries now (`apt-cache show`).
public struct ArchiveBinary: Sendable, Equatable {
    /// Debian version (`2.36-9+deb12u14`).
    public var version: String
    /// Architecture (`amd64`, `all`).
    public var arch: String
    /// sha256 of the `.deb`, as the archive's index records it.
    public var sha256: String
    /// The file's path in the archive's pool (`pool/main/g/glibc/libc6_…_amd64.deb`).
    public var filename: String

    /// A binary version as the archive lists it.
    public init(version: String, arch: String, sha256: String, filename: String) {
        self.version = version; self.arch = arch; self.sha256 = sha256; self.filename = filename
    }
}

/// One source package version the archive carries now (`apt-cache showsrc`) with its files.
public struct ArchiveSource: Sendable, Equatable {
    /// Debian version (`1:1.2.13.dfsg-1+deb12u1`).
    public var version: String
    /// File name → sha256 (the `.dsc`, the orig tarball(s), the Debian tarball).
    public var files: [String: String]

    /// A source version as the archive lists it.
    public init(version: String, files: [String: String]) { self.version = version; self.files = files }

    /// The upstream part of the version: no epoch, no Debian revision (`1:1.2.13.dfsg-1` → `1.2.13.dfsg`).
    public var upstreamVersion: String { DebianVersion.upstream(version) }
}

/// Splitting Debian version strings (`[epoch:]upstream[-revision]`).
public enum DebianVersion {
    /// The upstream part: the epoch and the last `-revision` removed.
    public static func upstream(_ version: String) -> String {
        var v = Substring(version)
        if let colon = v.firstIndex(of: ":") { v = v[v.index(after: colon)...] }
        if let dash = v.lastIndex(of: "-") { v = v[..<dash] }
        return String(v)
    }
}

/// What kiln asks of Debian's archive. The real one (`AptArchive`) runs apt's and mmdebstrap's own
/// tools with apt's configured sources; tests pass a fake so they do not depend on what Debian
/// publishes this week.
public protocol DebianArchive: Sendable {
    /// Bootstraps `request` (suite, variant, include, remove) into `root` with mmdebstrap and leaves
    /// every `.deb` it installed in `debs`. With `localRepository` (a flat repository: `.deb` files and
    /// a `Packages` index) the packages come only from there, offline.
    func bootstrap(_ request: DebianToolchain, root: String, debs: String, localRepository: String?, log: String) throws
    /// Downloads binary `package=version` for `arch` into `directory`; nil when the archive no longer has it.
    func download(package: String, version: String, arch: String, into directory: String) throws -> String?
    /// Every version of a binary package the archive carries now, newest first as apt lists them.
    func binaryVersions(of package: String) throws -> [ArchiveBinary]
    /// Every version of a source package the archive carries now, with its files' sha256s.
    func sourceVersions(of package: String) throws -> [ArchiveSource]
    /// Downloads the files of source `package=version` into `directory`; returns their names.
    func downloadSource(package: String, version: String, into directory: String) throws -> [String]
    /// Runs `body` with source look-ups enabled (apt needs a temporary `deb-src` entry; others need nothing).
    func withSourceIndex<T>(_ body: () throws -> T) throws -> T
}

extension DebianArchive {
    /// Source look-ups need no set-up by default.
    public func withSourceIndex<T>(_ body: () throws -> T) throws -> T { try body() }
}

/// Debian's archive through this machine's apt configuration: mmdebstrap for roots, `apt-get
/// download`/`apt-get source --download-only` for files, `apt-cache show`/`showsrc` for versions.
/// Source look-ups need a `deb-src` entry: `withSourceIndex` adds one for the duration of a call.
public struct AptArchive: DebianArchive {
    /// apt's configuration directory.
    public var etcApt: String

    /// The archive as `etcApt` configures it.
    public init(etcApt: String = "/etc/apt") { self.etcApt = etcApt }

    public func bootstrap(_ request: DebianToolchain, root: String, debs: String, localRepository: String?, log: String) throws {
        var args = ["--variant=\(request.variant)", "--include=\(request.include.joined(separator: ","))", "--quiet",
                    "--skip=essential/unlink",
                    // Every .deb installed, for the source cache (so the root can be made again offline).
                    "--customize-hook=sync-out /var/cache/apt/archives \(debs)"]
        for pkg in request.remove.sorted() {
            args.append("--customize-hook=chroot \"$1\" dpkg --purge --force-depends \(pkg)")
        }
        // The chroot's own apt sources and caches are not part of a build root.
        args.append("--customize-hook=rm -rf \"$1\"/etc/apt/sources.list.d/* \"$1\"/etc/apt/sources.list \"$1\"/var/cache/apt/* \"$1\"/var/lib/apt/lists/*")
        let mirrors: [String]
        if let repo = localRepository {
            // copy:// (not file://): apt copies each .deb into the chroot's archive cache, so dpkg inside
            // the chroot reads it there and nothing of the host is mounted into the root.
            mirrors = ["deb [trusted=yes] copy://\(repo) ./"]
        } else {
            mirrors = try DebianToolchain.aptSourceFiles(etcApt: etcApt)
        }
        args += [request.suite, root] + mirrors
        let r = try Subprocess("mmdebstrap", args, logFile: log).run()
        guard r.succeeded else {
            let tail = (try? String(contentsOfFile: log, encoding: .utf8))?.split(separator: "\n").suffix(15).joined(separator: "\n") ?? ""
            let hint = localRepository == nil ? "is apt working (`apt-get update`)?" : "from the cached packages in \(localRepository!)"
            throw KilnMessage("mmdebstrap failed (exit \(r.status)) bootstrapping the \(request.suite) toolchain; \(hint)\n\(tail)")
        }
    }

    public func download(package: String, version: String, arch: String, into directory: String) throws -> String? {
        let before = Set((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
        // apt downloads as its unprivileged _apt user.
        chmod(directory, 0o777)
        let r = try Subprocess("apt-get", ["download", "-qq", "\(package):\(arch)=\(version)"], workingDirectory: directory).run()
        let after = Set((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
        let new = after.subtracting(before).filter { $0.hasSuffix(".deb") }
        if r.succeeded, let f = new.first { return "\(directory)/\(f)" }
        let err = r.stderrString
        if err.contains("not found") || err.contains("Unable to locate") || err.contains("Can't select") { return nil }
        throw KilnMessage("apt-get download \(package)=\(version) failed (exit \(r.status)): \(err.trimmingCharacters(in: .whitespacesAndNewlines))")
    }

    public func binaryVersions(of package: String) throws -> [ArchiveBinary] {
        let r = try Subprocess("apt-cache", ["show", package]).run()
        guard r.succeeded else { return [] }
        return DebianControl.stanzas(r.stdoutString).compactMap { s in
            guard let v = s["Version"], let a = s["Architecture"], let h = s["SHA256"], let f = s["Filename"] else { return nil }
            return ArchiveBinary(version: v, arch: a, sha256: h, filename: f)
        }
    }

    public func sourceVersions(of package: String) throws -> [ArchiveSource] {
        let r = try Subprocess("apt-cache", ["showsrc", package]).run()
        guard r.succeeded else { return [] }
        var seen = Set<String>()
        return DebianControl.stanzas(r.stdoutString).compactMap { s in
            guard s["Package"] == package, let v = s["Version"], seen.insert(v).inserted else { return nil }
            var files: [String: String] = [:]
            for line in (s["Checksums-Sha256"] ?? "").split(separator: "\n") {
                let f = line.split(separator: " ")
                if f.count == 3 { files[String(f[2])] = String(f[0]) }
            }
            return ArchiveSource(version: v, files: files)
        }
    }

    public func downloadSource(package: String, version: String, into directory: String) throws -> [String] {
        let before = Set((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
        chmod(directory, 0o777)
        // Only the orig tarball matters; the archive may answer 404 for the rest, so the exit status is not final.
        let r = try Subprocess("apt-get", ["source", "-qq", "--download-only", "\(package)=\(version)"], workingDirectory: directory).run()
        let got = Set((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).subtracting(before)
        if got.isEmpty {
            throw KilnMessage("apt-get source --download-only \(package)=\(version) delivered nothing (exit \(r.status)): \(r.stderrString.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return got.sorted()
    }

    /// Runs `body` with a temporary `deb-src` entry beside apt's Debian sources (same URIs, suites,
    /// components and Signed-By), updating apt's lists before and after. Needs root.
    public func withSourceIndex<T>(_ body: () throws -> T) throws -> T {
        let src = "\(etcApt)/sources.list.d/debian.sources"
        let tmp = "\(etcApt)/sources.list.d/kiln-deb-src.sources"
        guard let text = try? String(contentsOfFile: src, encoding: .utf8) else {
            throw KilnMessage("\(src) not found; kiln derives its deb-src entry from apt's Debian sources")
        }
        guard getuid() == 0 else {
            throw KilnMessage("looking up Debian sources adds a deb-src entry under \(etcApt) and runs apt-get update: run as root")
        }
        let debSrc = text.split(separator: "\n", omittingEmptySubsequences: false).compactMap { line -> String? in
            if line.hasPrefix("#") { return nil }
            return line.hasPrefix("Types:") ? "Types: deb-src" : String(line)
        }.joined(separator: "\n")
        try AtomicFile.write(debSrc, to: tmp)
        defer {
            try? FileManager.default.removeItem(atPath: tmp)
            _ = try? Subprocess("apt-get", ["update", "-qq"]).run()
        }
        let r = try Subprocess("apt-get", ["update", "-qq"]).run()
        guard r.succeeded else { throw KilnMessage("apt-get update (with a temporary deb-src entry) failed: \(r.stderrString)") }
        return try body()
    }
}

/// Debian control-file syntax (`Field: value`, continuation lines start with a space, blank lines
/// separate stanzas), as `apt-cache`, `dpkg-deb -f` and `Packages` files write it.
public enum DebianControl {
    /// The stanzas of `text`; a multi-line field's continuation lines are joined with "\n", trimmed.
    public static func stanzas(_ text: String) -> [[String: String]] {
        var out: [[String: String]] = []
        var cur: [String: String] = [:]
        var last: String?
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if raw.trimmingCharacters(in: .whitespaces).isEmpty {
                if !cur.isEmpty { out.append(cur) }
                cur = [:]; last = nil; continue
            }
            if raw.first == " " || raw.first == "\t", let k = last {
                let v = raw.trimmingCharacters(in: .whitespaces)
                cur[k] = (cur[k].map { $0.isEmpty ? v : $0 + "\n" + v }) ?? v
                continue
            }
            guard let colon = raw.firstIndex(of: ":") else { continue }
            let k = String(raw[..<colon])
            cur[k] = raw[raw.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            last = k
        }
        if !cur.isEmpty { out.append(cur) }
        return out
    }
}
