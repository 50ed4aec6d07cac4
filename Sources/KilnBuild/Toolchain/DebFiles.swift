import Foundation
import KilnCore
import KilnCrypto

/// A `.deb` file's identity: its control fields and the sha256 of its bytes.
public struct DebFile: Sendable, Equatable {
    /// The file's path.
    public var path: String
    /// `Package`.
    public var package: String
    /// `Version`.
    public var version: String
    /// `Architecture`.
    public var arch: String
    /// sha256 (hex) of the file.
    public var sha256: String
    /// The whole control stanza (for a `Packages` index).
    public var control: String

    /// Reads the control stanza with `dpkg-deb -f` and hashes the file.
    public static func read(_ path: String) throws -> DebFile {
        let r = try Subprocess("dpkg-deb", ["-f", path]).run()
        guard r.succeeded, let s = DebianControl.stanzas(r.stdoutString).first,
              let p = s["Package"], let v = s["Version"], let a = s["Architecture"] else {
            throw KilnMessage("\(path): not a Debian package (dpkg-deb -f: \(r.stderrString.trimmingCharacters(in: .whitespacesAndNewlines)))")
        }
        // The fields name files in the source cache's index: they must be names, never paths.
        guard DebianToolchain.isPackageName(p), DebianToolchain.isVersion(v), DebianToolchain.isPackageName(a) else {
            throw KilnMessage("\(path): control fields '\(p.prefix(80)) \(v.prefix(80)) \(a.prefix(40))' are not a Debian package name, version and architecture; refused")
        }
        return DebFile(path: path, package: p, version: v, arch: a, sha256: try SourceCache.sha256(of: path),
                       control: r.stdoutString.trimmingCharacters(in: .newlines))
    }

    /// Every `.deb` directly in `directory`, sorted by package name.
    public static func all(in directory: String) throws -> [DebFile] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return try names.filter { $0.hasSuffix(".deb") }.sorted().map { try read("\(directory)/\($0)") }
            .sorted { $0.package < $1.package }
    }

    /// The name apt gives this file (`name_version_arch.deb`, the epoch's colon escaped).
    public var canonicalName: String {
        "\(package)_\(version.replacingOccurrences(of: ":", with: "%3a"))_\(arch).deb"
    }

    /// Writes a flat apt repository in `directory` holding `debs` (hard links or copies) with its
    /// `Packages` index and a `Release` file naming `suite`, for `deb [trusted=yes] file://DIR ./`.
    public static func writeFlatRepository(_ debs: [DebFile], suite: String, to directory: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var index = ""
        for d in debs.sorted(by: { $0.package < $1.package }) {
            let dest = "\(directory)/\(d.canonicalName)"
            try? fm.removeItem(atPath: dest)
            if link(d.path, dest) != 0 { try fm.copyItem(atPath: d.path, toPath: dest) }
            let size = (try fm.attributesOfItem(atPath: dest)[.size] as? NSNumber)?.int64Value ?? 0
            index += d.control + "\nFilename: ./\(d.canonicalName)\nSize: \(size)\nSHA256: \(d.sha256)\n\n"
        }
        try AtomicFile.write(index, to: "\(directory)/Packages")
        let sum = try Digest.sha256Hex(Data(index.utf8))
        // Suite and Codename: mmdebstrap's variants select packages with ?archive(^SUITE$)/?codename(^SUITE$).
        try AtomicFile.write("Origin: kiln\nLabel: kiln toolchain cache\nSuite: \(suite)\nCodename: \(suite)\nSHA256:\n \(sum) \(index.utf8.count) Packages\n",
                             to: "\(directory)/Release")
    }
}

extension SourceCache {
    /// sha256 (hex) of a file, streamed.
    public static func sha256(of file: String) throws -> String { try digests(of: file).sha256 }

    /// `<root>/debian/<name>_<version>_<arch>.deb`: an index by name into the content-addressed store
    /// (a symlink to `../sha256/<hex>`), for locks that record no digest.
    public func debianPath(package: String, version: String, arch: String) -> String {
        "\(root)/debian/\(package)_\(version.replacingOccurrences(of: ":", with: "%3a"))_\(arch).deb"
    }

    /// Adds a `.deb` by digest and indexes it by name, version and architecture.
    @discardableResult
    public func addDeb(_ deb: DebFile) throws -> String {
        let e = try add(file: deb.path)
        let link = debianPath(package: deb.package, version: deb.version, arch: deb.arch)
        try FileManager.default.createDirectory(atPath: "\(root)/debian", withIntermediateDirectories: true)
        if (try? FileManager.default.destinationOfSymbolicLink(atPath: link)) != "../sha256/\(e.sha256)" {
            let tmp = AtomicFile.temporaryPath(for: link)
            try FileManager.default.createSymbolicLink(atPath: tmp, withDestinationPath: "../sha256/\(e.sha256)")
            try AtomicFile.rename(tmp, to: link)
        }
        return e.path
    }

    /// The cached `.deb` for a lock entry: by digest when known, else by name; nil when not cached.
    public func cachedDeb(package: String, version: String, arch: String, sha256: String?) -> String? {
        let fm = FileManager.default
        if let s = sha256 { return fm.fileExists(atPath: path(sha256: s)) ? path(sha256: s) : nil }
        let p = debianPath(package: package, version: version, arch: arch)
        return fm.fileExists(atPath: p) ? p : nil
    }
}
