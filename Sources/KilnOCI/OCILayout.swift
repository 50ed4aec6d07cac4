import Foundation
import KilnCore
import KilnCrypto

/// An OCI content descriptor. Unknown fields (platform, urls, data) are kept in `extra` so a
/// descriptor read from a layout is written back unchanged.
public struct OCIDescriptor: Equatable, Sendable {
    public var mediaType: String
    public var digest: String          // "sha256:<64 hex>"
    public var size: Int64
    public var annotations: [String: String]
    public var artifactType: String?
    public var extra: [(String, JSON)]

    public static func == (a: OCIDescriptor, b: OCIDescriptor) -> Bool { a.json == b.json }

    public init(mediaType: String, digest: String, size: Int64, annotations: [String: String] = [:],
                artifactType: String? = nil) {
        self.mediaType = mediaType; self.digest = digest; self.size = size
        self.annotations = annotations; self.artifactType = artifactType; self.extra = []
    }

    public init(json: JSON, source: String) throws {
        guard let mt = json["mediaType"]?.string else { throw KilnMessage("\(source): descriptor without mediaType") }
        guard let dg = json["digest"]?.string else { throw KilnMessage("\(source): descriptor without digest") }
        guard let sz = json["size"]?.int, sz >= 0 else { throw KilnMessage("\(source): descriptor \(dg) without a valid size") }
        try OCILayout.checkDigest(dg, source: source)
        mediaType = mt; digest = dg; size = sz
        artifactType = json["artifactType"]?.string
        var ann: [String: String] = [:]
        for (k, v) in json["annotations"]?.object ?? [] { if let s = v.string { ann[k] = s } }
        annotations = ann
        extra = (json.object ?? []).filter { !["mediaType", "digest", "size", "annotations", "artifactType"].contains($0.0) }
    }

    /// Serialised in the field order the OCI spec lists (mediaType, artifactType, digest, size, …, annotations).
    public var json: JSON {
        var pairs: [(String, JSON)] = [("mediaType", .string(mediaType))]
        if let artifactType { pairs.append(("artifactType", .string(artifactType))) }
        pairs.append(("digest", .string(digest)))
        pairs.append(("size", .int(size)))
        pairs.append(contentsOf: extra)
        if !annotations.isEmpty {
            pairs.append(("annotations", .object(annotations.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })))
        }
        return .object(pairs)
    }

    public var hex: String { String(digest.dropFirst("sha256:".count)) }
    public var refName: String? { annotations[OCIMediaType.refName] }
}

/// A small reader/writer for OCI image layouts (image-spec `image-layout.md`): `oci-layout`,
/// `index.json` and `blobs/sha256/`. Everything it writes goes to a temporary name and is renamed
/// into place; `index.json` updates are serialised with a lock on the layout directory.
public final class OCILayout: Sendable {
    public let path: String

    public init(path: String) throws {
        self.path = path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
            throw KilnMessage("\(path): no such OCI layout directory (make one with `kiln image`)")
        }
        let marker = path + "/oci-layout"
        guard let m = FileManager.default.contents(atPath: marker) else {
            throw KilnMessage("\(marker): missing — \(path) is not an OCI image layout")
        }
        let j = try JSON.parse(m, source: marker)
        guard j["imageLayoutVersion"]?.string != nil else {
            throw KilnMessage("\(marker): no imageLayoutVersion — not an OCI image layout")
        }
        guard FileManager.default.fileExists(atPath: indexPath) else {
            throw KilnMessage("\(indexPath): missing — \(path) is not an OCI image layout")
        }
    }

    /// Creates an empty layout (oci-layout, index.json, blobs/sha256/) at `path` if there is none.
    @discardableResult
    public static func create(at path: String) throws -> OCILayout {
        let fm = FileManager.default
        try fm.createDirectory(atPath: path + "/blobs/sha256", withIntermediateDirectories: true)
        if !fm.fileExists(atPath: path + "/oci-layout") {
            try AtomicFile.write(JSON.object([("imageLayoutVersion", "1.0.0")]).compact(), to: path + "/oci-layout")
        }
        if !fm.fileExists(atPath: path + "/index.json") {
            let idx: JSON = .object([("schemaVersion", 2), ("mediaType", .string(OCIMediaType.imageIndex)), ("manifests", .array([]))])
            try AtomicFile.write(idx.compact(), to: path + "/index.json")
        }
        return try OCILayout(path: path)
    }

    public var indexPath: String { path + "/index.json" }

    /// `<layout>/blobs/sha256`.
    public var blobsDirectory: String { path + "/blobs/sha256" }

    static func checkDigest(_ d: String, source: String) throws { _ = try OCIDigest(parsing: d, source: source) }

    public func blobPath(_ digest: String) throws -> String {
        try OCILayout.checkDigest(digest, source: indexPath)
        return path + "/blobs/sha256/" + digest.dropFirst(7)
    }

    // MARK: index

    public func readIndex() throws -> JSON {
        guard let d = FileManager.default.contents(atPath: indexPath) else { throw KilnMessage("\(indexPath): cannot read") }
        let j = try JSON.parse(d, source: indexPath)
        guard j["manifests"]?.array != nil || j["manifests"] == nil else { throw KilnMessage("\(indexPath): manifests is not an array") }
        return j
    }

    /// The descriptors listed in index.json, in file order.
    public func manifests() throws -> [OCIDescriptor] {
        try (readIndex()["manifests"]?.array ?? []).enumerated().map {
            try OCIDescriptor(json: $0.element, source: "\(indexPath): manifests[\($0.offset)]")
        }
    }

    /// Finds a manifest by tag (`org.opencontainers.image.ref.name`) or by digest (`sha256:…`).
    public func resolve(_ ref: String) throws -> OCIDescriptor {
        let all = try manifests()
        if ref.hasPrefix("sha256:") {
            if let d = all.first(where: { $0.digest == ref }) { return d }
            for e in all where OCIMediaType.isIndex(e.mediaType) {
                if let d = try? imageManifests(of: e).first(where: { $0.digest == ref }) { return d }
            }
            throw KilnMessage("\(path): no manifest with digest \(ref) in index.json")
        }
        if let d = all.first(where: { $0.refName == ref }) { return d }
        let tags = all.compactMap(\.refName).sorted()
        throw KilnMessage("\(path): no tag \(ref) in index.json (tags: \(tags.isEmpty ? "none" : tags.joined(separator: ", ")))")
    }

    /// The tagged entry, or nil when there is none.
    public func lookup(tag: String) throws -> OCIDescriptor? {
        try manifests().first(where: { $0.refName == tag })
    }

    /// Points `tag` at `descriptor` (replacing any entry that had the tag), atomically; index.json is
    /// not rewritten when the tag already points at exactly that descriptor.
    public func setTag(_ tag: String, to descriptor: OCIDescriptor) throws {
        try withLock {
            let idx = try readIndex()
            var d = descriptor
            d.annotations[OCIMediaType.refName] = tag
            var entries = try (idx["manifests"]?.array ?? []).enumerated().map {
                try OCIDescriptor(json: $0.element, source: "\(indexPath): manifests[\($0.offset)]")
            }
            if entries.filter({ $0.refName == tag }) == [d] { return }
            entries.removeAll { $0.refName == tag }
            entries.append(d)
            let out = (idx.object == nil ? JSON.object([("schemaVersion", 2)]) : idx)
                .setting("manifests", .array(entries.map(\.json)))
            try AtomicFile.write(out.compact(), to: indexPath)
        }
    }

    /// Lists `descriptor` in index.json without a tag (no-op when an entry with its digest and no tag is there).
    public func addUntagged(_ descriptor: OCIDescriptor) throws {
        try withLock {
            let idx = try readIndex()
            var entries = try (idx["manifests"]?.array ?? []).enumerated().map {
                try OCIDescriptor(json: $0.element, source: "\(indexPath): manifests[\($0.offset)]")
            }
            guard !entries.contains(where: { $0.digest == descriptor.digest && $0.refName == nil }) else { return }
            var d = descriptor
            d.annotations[OCIMediaType.refName] = nil
            entries.append(d)
            let out = (idx.object == nil ? JSON.object([("schemaVersion", 2)]) : idx).setting("manifests", .array(entries.map(\.json)))
            try AtomicFile.write(out.compact(), to: indexPath)
        }
    }

    private func withLock<T>(_ body: () throws -> T) throws -> T {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw KilnMessage("\(path): cannot open to lock: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR { throw KilnMessage("\(path): cannot lock: \(String(cString: strerror(errno)))") }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    // MARK: blobs

    /// Reads a blob; with `verify` its size and sha256 must match the descriptor.
    /// The path of blob `d` after checking its size and SHA-256, read in chunks (for layers: never
    /// the whole blob in memory).
    public func verifiedBlobPath(_ d: OCIDescriptor) throws -> String {
        let p = try blobPath(d.digest)
        var st = stat()
        guard stat(p, &st) == 0 else { throw KilnMessage("\(p): blob \(d.digest) (\(d.mediaType)) is missing") }
        guard Int64(st.st_size) == d.size else {
            throw KilnMessage("\(p): size \(st.st_size) does not match the descriptor's \(d.size)")
        }
        let h = try Digest.hashFile(.sha256, path: p).hexString
        guard h == d.hex else { throw KilnMessage("\(p): content digest sha256:\(h) does not match \(d.digest)") }
        return p
    }

    public func readBlob(_ d: OCIDescriptor, verify: Bool = true) throws -> Data {
        let p = try blobPath(d.digest)
        guard let data = FileManager.default.contents(atPath: p) else {
            throw KilnMessage("\(p): blob \(d.digest) (\(d.mediaType)) is missing")
        }
        if verify {
            guard Int64(data.count) == d.size else {
                throw KilnMessage("\(p): size \(data.count) does not match the descriptor's \(d.size)")
            }
            let h = try Digest.sha256Hex(data)
            guard h == d.hex else { throw KilnMessage("\(p): content digest sha256:\(h) does not match \(d.digest)") }
        }
        return data
    }

    /// Reads the blob `digest` (validated first) and checks its content hashes to it.
    public func readBlob(digest: String) throws -> Data {
        let p = try blobPath(digest)
        guard let d = FileManager.default.contents(atPath: p) else { throw KilnMessage("\(p): blob missing from the layout") }
        let actual = "sha256:" + (try Digest.sha256Hex(d))
        guard actual == digest else { throw KilnMessage("\(p): blob digest is \(actual), expected \(digest); the layout is corrupt") }
        return d
    }

    /// Stores `data` as a blob (no-op when an identical blob is there) and returns its descriptor.
    @discardableResult
    public func writeBlob(_ data: Data, mediaType: String, annotations: [String: String] = [:]) throws -> OCIDescriptor {
        let hex = try Digest.sha256Hex(data)
        let d = OCIDescriptor(mediaType: mediaType, digest: "sha256:" + hex, size: Int64(data.count), annotations: annotations)
        let p = try blobPath(d.digest)
        if let existing = FileManager.default.contents(atPath: p), existing == data { return d }
        try AtomicFile.write(data, to: p)
        return d
    }

    /// Reads and parses a JSON blob (manifest, config, index), verifying it against its descriptor.
    public func readJSON(_ d: OCIDescriptor) throws -> JSON {
        try JSON.parse(try readBlob(d), source: "\(path)/blobs/sha256/\(d.hex)")
    }

    /// The image manifests of `d`: itself when it is a manifest, its children when it is an index.
    public func imageManifests(of d: OCIDescriptor) throws -> [OCIDescriptor] {
        if OCIMediaType.isManifest(d.mediaType) { return [d] }
        if OCIMediaType.isIndex(d.mediaType) {
            let j = try readJSON(d)
            return try (j["manifests"]?.array ?? []).enumerated().flatMap {
                try imageManifests(of: OCIDescriptor(json: $0.element, source: "\(path)/blobs/sha256/\(d.hex): manifests[\($0.offset)]"))
            }
        }
        throw KilnMessage("\(path): \(d.digest) has media type \(d.mediaType), not an image manifest or index")
    }
}

/// The cosign tag for a digest: `sha256:<hex>` → `sha256-<hex>.sig` / `.att`.
public enum CosignTag {
    public static func signature(for digest: String) -> String { digest.replacingOccurrences(of: ":", with: "-") + ".sig" }
    public static func attestation(for digest: String) -> String { digest.replacingOccurrences(of: ":", with: "-") + ".att" }
    public static func sbom(for digest: String) -> String { digest.replacingOccurrences(of: ":", with: "-") + ".sbom" }
    /// True for tags of the `sha256-<hex>.(sig|att|sbom)` form (artifacts, not images).
    public static func isArtifactTag(_ tag: String) -> Bool {
        guard tag.hasPrefix("sha256-") else { return false }
        return tag.hasSuffix(".sig") || tag.hasSuffix(".att") || tag.hasSuffix(".sbom")
    }
}
