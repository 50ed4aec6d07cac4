import Foundation
import KilnCrypto
import KilnCore
import KilnOCI
import KilnArchive

/// Reads what `kiln repro` compares: an .apk (concatenated gzip'd tar segments), a tar or tar.gz
/// (an image layer), an OCI image layout directory (index → manifests → config and layers), or
/// any other file (one entry). Pass 1 of the differ: files and layers are streamed (`ArchiveScan`)
/// into entry metadata and content digests; no entry's bytes are kept (OCI JSON documents are).
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
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw ReproError.unreadable(path: path, reason: "permission denied or not a regular file")
        }
        let format = path.hasSuffix(".apk") ? "apk" : "tar"
        if let s = try archive(path, name: path) {
            return Artifact(format: format, path: path, digest: "sha256:" + s.raw.sha256, source: .file(path),
                            uncompressed: s.uncompressed, entries: s.entries)
        }
        let d = try digestFile(path)
        return Artifact(format: "file", path: path, digest: "sha256:" + d.sha256, source: .file(path),
                        entries: [wholeFile(URL(fileURLWithPath: path).lastPathComponent, path, d)])
    }

    /// Pass 1 over a (possibly gzip'd, possibly multi-member) tar, or nil when the file is not one
    /// (it is then compared as one file, as before: a bad archive is still a difference to show).
    /// A file that cannot be read, or that inflates past the layer limit, is an error naming it.
    static func archive(_ path: String, name: String) throws -> ArchiveScan.Summary? {
        guard let storage = try ArchiveScan.storage(path) else { return nil }
        let limit = Int(clamping: ArchiveLimits.maxInflatedLayerBytes)
        do { return try ArchiveScan.summarize(path, storage, name: name, limit: limit) } catch let e as ReproError {
            throw e     // the file itself cannot be read
        } catch let e as ArchiveError where e == Gzip.streamTooLarge(limit) {
            throw ReproError.invalid("\(name): \(e); refusing a possible decompression bomb")
        } catch {
            return nil
        }
    }

    /// The digest of a whole file, streamed.
    static func digestFile(_ path: String) throws -> ContentDigest {
        let h = try ContentHasher()
        try ArchiveScan.read(path) { try h.update($0) }
        return try h.finish()
    }

    /// A whole file as one entry (default attributes).
    static func wholeFile(_ name: String, _ path: String, _ d: ContentDigest) -> ArtifactEntry {
        ArtifactEntry(path: name, kind: .file, mode: 0o644, uid: 0, gid: 0, uname: "root", gname: "root", mtime: nil,
                      size: d.size, linkTarget: nil, extra: [:], digest: d, content: .file(path))
    }

    // MARK: OCI layouts

    static func loadLayout(_ dir: String) throws -> Artifact {
        guard let index = FileManager.default.contents(atPath: dir + "/index.json") else {
            throw ReproError.unreadable(path: dir + "/index.json", reason: "missing")
        }
        var entries = [try ArtifactEntry(path: "index.json", kind: .file, data: index)]
        try walkIndex(index, dir: dir, prefix: "", entries: &entries, depth: 0)
        return Artifact(format: "oci-layout", path: dir, digest: "sha256:" + (try Digest.sha256Hex(index)), raw: index, entries: entries)
    }

    /// The path of a blob, which must exist.
    static func blobPath(_ dir: String, _ digest: String) throws -> String {
        let p: String
        do { p = try OCIDigest(parsing: digest, source: dir).blobPath(inLayout: dir) } catch {
            throw ReproError.invalid("\(dir): malformed digest \(digest) (kiln reads sha256 layouts only)")
        }
        guard FileManager.default.fileExists(atPath: p) else { throw ReproError.unreadable(path: p, reason: "blob missing") }
        return p
    }

    /// A JSON document's blob (index, manifest, config: small, held in memory).
    static func blob(_ dir: String, _ digest: String) throws -> Data {
        let p = try blobPath(dir, digest)
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
                entries.append(try ArtifactEntry(path: base + "index.json", kind: .file, data: body))
                try walkIndex(body, dir: dir, prefix: base, entries: &entries, depth: depth + 1)
                continue
            }
            entries.append(try ArtifactEntry(path: base + "manifest.json", kind: .file, data: body))
            let man = try json(body, base + "manifest.json")
            if let cd = man["config"]?["digest"]?.string {
                entries.append(try ArtifactEntry(path: base + "config.json", kind: .file, data: try blob(dir, cd)))
            }
            for (j, l) in (man["layers"]?.array ?? []).enumerated() {
                guard let ld = l["digest"]?.string else { continue }
                let lb = try blobPath(dir, ld)
                let lp = base + "layers/\(j)/"
                if let summary = try archive(lb, name: lp) {
                    entries += summary.entries.map { var e = $0; e.path = lp + e.path; e.linkTarget = e.kind == .hardlink ? e.linkTarget.map { lp + $0 } : e.linkTarget; return e }
                } else {
                    entries.append(wholeFile(lp + "blob", lb, try digestFile(lb)))
                }
            }
        }
    }
}
