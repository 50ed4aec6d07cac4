import Foundation
import KilnBuild
import KilnCore

/// A Debian archive that tests control: it publishes chosen versions of tiny real `.deb` files
/// (made with `dpkg-deb --build`, byte-stable) and source packages, and "bootstraps" a root by writing
/// a dpkg status file for what it publishes (or for what a local flat repository holds), so the drift,
/// frozen and update logic is tested without depending on what Debian publishes this week.
public final class FakeDebianArchive: DebianArchive, @unchecked Sendable {
    /// Binary packages published now: name → version (architecture amd64).
    public var published: [String: String]
    /// Source packages published now: name → [(version, file name, file path)].
    public var sources: [String: [(version: String, file: String, path: String)]] = [:]
    /// When false, downloads fail as they would with no network.
    public var online = true
    /// How many bootstraps ran (reuse must not bootstrap).
    public private(set) var bootstraps = 0
    let pool: String
    private let lock = NSLock()

    /// An archive publishing `published`, its files under `pool`.
    public init(published: [String: String], pool: String) {
        self.published = published; self.pool = pool
        try? FileManager.default.createDirectory(atPath: pool, withIntermediateDirectories: true)
    }

    /// The `.deb` for name=version, made once (same bytes every time).
    public func deb(_ name: String, _ version: String) throws -> String {
        let path = "\(pool)/\(name)_\(version.replacingOccurrences(of: ":", with: "%3a"))_amd64.deb"
        if FileManager.default.fileExists(atPath: path) { return path }
        let dir = "\(pool)/build-\(name)-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: "\(dir)/DEBIAN", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(dir)/usr/share/doc/\(name)", withIntermediateDirectories: true)
        try "\(name) \(version)\n".write(toFile: "\(dir)/usr/share/doc/\(name)/VERSION", atomically: true, encoding: .utf8)
        try "Package: \(name)\nVersion: \(version)\nArchitecture: amd64\nMaintainer: kiln tests <t@kiln.invalid>\nPriority: optional\nDescription: test package \(name)\n"
            .write(toFile: "\(dir)/DEBIAN/control", atomically: true, encoding: .utf8)
        let r = try Subprocess("dpkg-deb", ["--build", "--root-owner-group", "-Zgzip", dir, path],
                               environment: ["PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "SOURCE_DATE_EPOCH": "0"]).run()
        guard r.succeeded else { throw KilnMessage("dpkg-deb --build failed: \(r.stderrString)") }
        return path
    }

    public func bootstrap(_ request: DebianToolchain, root: String, debs: String, localRepository: String?, log: String) throws {
        lock.lock(); bootstraps += 1; lock.unlock()
        var install: [(String, String, String)] = []   // name, version, deb path
        if let repo = localRepository {
            let index = try String(contentsOfFile: "\(repo)/Packages", encoding: .utf8)
            for s in DebianControl.stanzas(index) {
                install.append((s["Package"]!, s["Version"]!, "\(repo)/\(s["Filename"]!.dropFirst(2))"))
            }
            for name in published.keys where !install.contains(where: { $0.0 == name }) {
                throw KilnMessage("fake mmdebstrap: \(name) is not in the local repository \(repo)")
            }
        } else {
            for (name, version) in published.sorted(by: { $0.key < $1.key }) { install.append((name, version, try deb(name, version))) }
        }
        let fm = FileManager.default
        try fm.createDirectory(atPath: "\(root)/bin", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: "\(root)/var/lib/dpkg/info", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: debs, withIntermediateDirectories: true)
        try "#!/bin/sh\n".write(toFile: "\(root)/bin/sh", atomically: true, encoding: .utf8)
        var status = ""
        for (name, version, path) in install {
            try fm.copyItem(atPath: path, toPath: "\(debs)/\((path as NSString).lastPathComponent)")
            if request.remove.contains(name) { continue }
            status += "Package: \(name)\nStatus: install ok installed\nVersion: \(version)\nArchitecture: amd64\n\n"
        }
        try status.write(toFile: "\(root)/var/lib/dpkg/status", atomically: true, encoding: .utf8)
    }

    public func download(package: String, version: String, arch: String, into directory: String) throws -> String? {
        guard online else { throw KilnMessage("fake archive: offline (no network)") }
        guard published[package] == version else { return nil }
        let src = try deb(package, version)
        let dest = "\(directory)/\((src as NSString).lastPathComponent)"
        try? FileManager.default.removeItem(atPath: dest)
        try FileManager.default.copyItem(atPath: src, toPath: dest)
        return dest
    }

    public func binaryVersions(of package: String) throws -> [ArchiveBinary] {
        guard let v = published[package] else { return [] }
        let path = try deb(package, v)
        return [ArchiveBinary(version: v, arch: "amd64", sha256: try SourceCache.sha256(of: path),
                              filename: "pool/main/\(package.prefix(1))/\(package)/\((path as NSString).lastPathComponent)")]
    }

    public func sourceVersions(of package: String) throws -> [ArchiveSource] {
        try (sources[package] ?? []).map { s in ArchiveSource(version: s.version, files: [s.file: try SourceCache.sha256(of: s.path)]) }
    }

    public func downloadSource(package: String, version: String, into directory: String) throws -> [String] {
        guard online else { throw KilnMessage("fake archive: offline (no network)") }
        guard let s = sources[package]?.first(where: { $0.version == version }) else {
            throw KilnMessage("fake archive: no source \(package)=\(version)")
        }
        try? FileManager.default.removeItem(atPath: "\(directory)/\(s.file)")
        try FileManager.default.copyItem(atPath: s.path, toPath: "\(directory)/\(s.file)")
        return [s.file]
    }
}
