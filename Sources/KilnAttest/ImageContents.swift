import Foundation
import KilnOCI
import KilnAPK
import KilnArchive
import KilnCore
import KilnCrypto

/// The files of an image that attestation and verification need, read from its layer tarballs in
/// order with OCI whiteouts applied: the installed database, the per-package SBOMs and the FIPS
/// provider's files.
public struct ImageContents: Sendable {
    public enum Kind: Sendable, Equatable { case file, directory, symlink(String), hardlink(String) }
    public struct File: Sendable {
        public var kind: Kind
        public var data: Data
    }

    /// Paths (relative, no leading "/") kept, with their content when they are regular files.
    public var files: [String: File]
    public var manifest: JSON
    public var config: JSON
    public var manifestDescriptor: OCIDescriptor

    public static let installedDB = "lib/apk/db/installed"
    public static let sbomDirectory = "var/lib/db/sbom/"

    /// Which paths are kept (everything else is only walked).
    public static func isInteresting(_ p: String) -> Bool {
        p == installedDB || (p.hasPrefix(sbomDirectory) && p.hasSuffix(".spdx.json"))
            || p.hasSuffix("/ossl-modules/fips.so") || p.hasSuffix("fipsmodule.cnf") || p.hasSuffix("openssl.cnf")
    }

    static func normalize(_ path: String) -> String {
        var p = path
        while p.hasPrefix("./") { p.removeFirst(2) }
        while p.hasPrefix("/") { p.removeFirst() }
        while p.hasSuffix("/") { p.removeLast() }
        return p
    }

    /// Reads the image manifest `d` of `layout` (blobs are digest-checked while read).
    /// `verifyBlobs: false` skips re-hashing blobs a caller has just checked.
    public static func read(layout: OCILayout, manifest d: OCIDescriptor, verifyBlobs: Bool = true,
                            keep: (String) -> Bool = ImageContents.isInteresting) throws -> ImageContents {
        let manifest = try layout.readJSON(d)
        guard let cfgJSON = manifest["config"] else { throw KilnMessage("\(layout.path): manifest \(d.digest) has no config") }
        let cfgDesc = try OCIDescriptor(json: cfgJSON, source: "manifest \(d.digest): config")
        let config = try layout.readJSON(cfgDesc)
        var files: [String: File] = [:]
        for (n, lj) in (manifest["layers"]?.array ?? []).enumerated() {
            let ld = try OCIDescriptor(json: lj, source: "manifest \(d.digest): layers[\(n)]")
            // Streamed: the blob is hashed in chunks, then read entry by entry; only kept files are held.
            let blob = verifyBlobs ? try layout.verifiedBlobPath(ld) : try layout.blobPath(ld.digest)
            do {
                try ArchiveReader.forEach(path: blob, name: "layer \(ld.digest)") { e, read in
                    let p = normalize(e.path)
                    let base = (p as NSString).lastPathComponent
                    let dir = (p as NSString).deletingLastPathComponent
                    if base == ".wh..wh..opq" {
                        let prefix = dir.isEmpty ? "" : dir + "/"
                        files = files.filter { !$0.key.hasPrefix(prefix) }
                        return
                    }
                    if base.hasPrefix(".wh.") {
                        let target = (dir.isEmpty ? "" : dir + "/") + base.dropFirst(4)
                        files[target] = nil
                        files = files.filter { !$0.key.hasPrefix(target + "/") }
                        return
                    }
                    guard keep(p) else { return }
                    switch e.kind {
                    case .file: files[p] = File(kind: .file, data: try read())
                    case .directory: files[p] = File(kind: .directory, data: Data())
                    case let .symlink(t): files[p] = File(kind: .symlink(t), data: Data())
                    case let .hardlink(t):
                        let tp = normalize(t)
                        files[p] = File(kind: .hardlink(tp), data: files[tp]?.data ?? Data())
                    }
                }
            } catch {
                throw KilnMessage("\(layout.path): layer \(ld.digest) of \(d.digest) cannot be read as a tar archive: \(error)")
            }
        }
        return ImageContents(files: files, manifest: manifest, config: config, manifestDescriptor: d)
    }

    /// The installed packages, or nil when the image has no apk database.
    public func installedPackages() throws -> [APKIndexRecord]? {
        guard let f = files[ImageContents.installedDB], f.kind == .file else { return nil }
        return try APKIndex.parseInstalledDatabase(String(decoding: f.data, as: UTF8.self),
                                                  file: "\(manifestDescriptor.digest):/\(ImageContents.installedDB)")
    }

    /// Per-package SPDX documents, keyed by file name without `.spdx.json` (`<name>-<version>`).
    public func packageSBOMs() -> [String: (path: String, data: Data)] {
        var out: [String: (path: String, data: Data)] = [:]
        for (p, f) in files where p.hasPrefix(ImageContents.sbomDirectory) && p.hasSuffix(".spdx.json") && f.kind == .file {
            let name = String((p as NSString).lastPathComponent.dropLast(".spdx.json".count))
            out[name] = (p, f.data)
        }
        return out
    }

    /// The image config's architecture (OCI spelling, e.g. amd64).
    public var architecture: String { config["architecture"]?.string ?? "" }

    /// Annotations of the manifest and labels of the config, merged (manifest wins).
    public var annotationsAndLabels: [String: String] {
        var out: [String: String] = [:]
        for (k, v) in config["config"]?["Labels"]?.object ?? [] { if let s = v.string { out[k] = s } }
        for (k, v) in manifest["annotations"]?.object ?? [] { if let s = v.string { out[k] = s } }
        return out
    }
}
