import Foundation
import KilnCrypto
import KilnCore
import KilnOCI
import KilnArchive

/// Reads what `kiln repro` compares: an .apk (concatenated gzip'd tar segments), a tar or tar.gz
/// (an image layer), an OCI image layout directory (index → manifests → config and layers), or
/// any other file (one entry).
public enum ArtifactLoader {
    public static func load(_ path: String) throws -> Artifact {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ReproError.unreadable(path: path, reason: "no such file or directory")
        }
        if isDir.boolValue {
            guard FileManager.default.fileExists(atPath: path + "/oci-layout") else {
                throw ReproError.unreadable(path: path, reason: "a directory that is not an OCI image layout (no oci-layout file)")
            }
            return try loadLayout(path)
        }
        guard let raw = FileManager.default.contents(atPath: path) else {
            throw ReproError.unreadable(path: path, reason: "permission denied or not a regular file")
        }
        let digest = "sha256:" + (try Digest.sha256Hex(raw))
        let format = path.hasSuffix(".apk") ? "apk" : "tar"
        if let (entries, uncompressed) = try? archiveEntries(raw, name: path) {
            return Artifact(format: format, path: path, digest: digest, raw: raw, uncompressed: uncompressed, entries: entries)
        }
        return Artifact(format: "file", path: path, digest: digest, raw: raw,
                        entries: [ArtifactEntry(path: URL(fileURLWithPath: path).lastPathComponent, kind: .file, data: raw)])
    }

    /// Entries of a (possibly gzip'd, possibly multi-member) tar, in archive order, and the
    /// decompressed bytes when it was compressed.
    static func archiveEntries(_ raw: Data, name: String) throws -> ([ArtifactEntry], Data?) {
        let uncompressed = Gzip.isGzip(raw) ? try Gzip.decompress(raw, totalLimit: Int(clamping: ArchiveLimits.maxInflatedLayerBytes)) : nil
        guard let tarBytes = uncompressed ?? (looksLikeTar(raw) ? raw : nil) else {
            throw ReproError.invalid("\(name): not a tar archive")
        }
        let list = try ArchiveReader.entries(data: tarBytes, name: name)
        return (list.map { convert($0.entry, $0.data) }, uncompressed)
    }

    static func looksLikeTar(_ d: Data) -> Bool {
        // ustar magic at offset 257 (GNU "ustar  " and POSIX "ustar\0")
        d.count >= 512 && d.subdata(in: (d.startIndex + 257)..<(d.startIndex + 262)) == Data("ustar".utf8)
    }

    static func convert(_ e: TarEntry, _ data: Data) -> ArtifactEntry {
        var kind = ArtifactEntry.Kind.other, target: String?
        switch e.kind {
        case .file: kind = .file
        case .directory: kind = .directory
        case .symlink(let t): kind = .symlink; target = t
        case .hardlink(let t): kind = .hardlink; target = t
        default: kind = .other
        }
        var extra: [String: String] = [:]
        for (k, v) in e.pax { extra["pax:" + k] = v }
        for (k, v) in e.xattrs { extra["xattr:" + k] = v.base64EncodedString() }
        return ArtifactEntry(path: e.path, kind: kind, mode: e.mode, uid: e.uid, gid: e.gid, uname: e.uname, gname: e.gname,
                             mtime: e.mtime, size: e.kind == .file ? e.size : 0, linkTarget: target, extra: extra, data: data)
    }

    // MARK: OCI layouts

    static func loadLayout(_ dir: String) throws -> Artifact {
        guard let index = FileManager.default.contents(atPath: dir + "/index.json") else {
            throw ReproError.unreadable(path: dir + "/index.json", reason: "missing")
        }
        var entries = [ArtifactEntry(path: "index.json", kind: .file, data: index)]
        try walkIndex(index, dir: dir, prefix: "", entries: &entries, depth: 0)
        return Artifact(format: "oci-layout", path: dir, digest: "sha256:" + (try Digest.sha256Hex(index)), raw: index, entries: entries)
    }

    static func blob(_ dir: String, _ digest: String) throws -> Data {
        let p: String
        do { p = try OCIDigest(parsing: digest, source: dir).blobPath(inLayout: dir) } catch {
            throw ReproError.invalid("\(dir): malformed digest \(digest) (kiln reads sha256 layouts only)")
        }
        guard let d = FileManager.default.contents(atPath: p) else { throw ReproError.unreadable(path: p, reason: "blob missing") }
        return d
    }

    /// An OCI JSON document (KilnOCI's `JSON`, depth-limited), which must be an object.
    static func json(_ d: Data, _ what: String) throws -> JSON {
        guard let o = try? JSON.parse(d, source: what), o.object != nil else { throw ReproError.invalid("\(what): not a JSON object") }
        return o
    }

    static func walkIndex(_ data: Data, dir: String, prefix: String, entries: inout [ArtifactEntry], depth: Int) throws {
        guard depth < 4 else { throw ReproError.invalid("\(dir): image indexes nested too deeply") }
        let idx = try json(data, prefix + "index.json")
        let manifests = idx["manifests"]?.array ?? []
        var used = Set<String>()
        for (i, m) in manifests.enumerated() {
            guard let digest = m["digest"]?.string else { continue }
            var label = "\(i)"
            if let ref = m["annotations"]?[OCIMediaType.refName]?.string {
                label = ref
            } else if let os = m["platform"]?["os"]?.string, let arch = m["platform"]?["architecture"]?.string {
                label = "\(os)-\(arch)"
            }
            if used.contains(label) { label += "#\(i)" }
            used.insert(label)
            let base = prefix + "manifests/\(label)/"
            let body = try blob(dir, digest)
            let media = m["mediaType"]?.string ?? ""
            if media.contains("index") || media.contains("manifest.list") {
                entries.append(ArtifactEntry(path: base + "index.json", kind: .file, data: body))
                try walkIndex(body, dir: dir, prefix: base, entries: &entries, depth: depth + 1)
                continue
            }
            entries.append(ArtifactEntry(path: base + "manifest.json", kind: .file, data: body))
            let man = try json(body, base + "manifest.json")
            if let cd = man["config"]?["digest"]?.string {
                entries.append(ArtifactEntry(path: base + "config.json", kind: .file, data: try blob(dir, cd)))
            }
            for (j, l) in (man["layers"]?.array ?? []).enumerated() {
                guard let ld = l["digest"]?.string else { continue }
                let lb = try blob(dir, ld)
                let lp = base + "layers/\(j)/"
                if let (es, _) = try? archiveEntries(lb, name: lp) {
                    entries += es.map { var e = $0; e.path = lp + e.path; e.linkTarget = e.kind == .hardlink ? e.linkTarget.map { lp + $0 } : e.linkTarget; return e }
                } else {
                    entries.append(ArtifactEntry(path: lp + "blob", kind: .file, data: lb))
                }
            }
        }
    }
}
