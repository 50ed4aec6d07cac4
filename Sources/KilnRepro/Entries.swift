import Foundation
import KilnOCI
import KilnCore

/// Where an entry's (or an artifact's) bytes can be read again: the differ keeps only digests
/// (`ContentDigest`) and re-reads, up to a cap, just the contents that differ.
public enum ContentSource: Sendable, Equatable {
    /// Held in memory (an OCI JSON document, or bytes a caller made).
    case data(Data)
    /// The whole file at this path.
    case file(String)
    /// The `index`-th entry (counting every entry, in archive order) of the tar or tar.gz at `archive`.
    case member(archive: String, index: Int)
}

/// One entry of an artifact as the differ sees it: a tar member of a package or layer, or a JSON
/// document of an OCI layout (index, manifest, config). Contents are summarized by `digest`; the
/// bytes stay where `content` says.
public struct ArtifactEntry: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable { case file, directory, symlink, hardlink, other }
    public var path: String
    public var kind: Kind
    public var mode: UInt32
    public var uid: Int
    public var gid: Int
    public var uname: String
    public var gname: String
    public var mtime: Int64?
    public var size: Int64
    public var linkTarget: String?
    /// Extra attributes that must match too (PAX records such as `APK-TOOLS.checksum.SHA1`, xattrs).
    public var extra: [String: String]
    /// SHA-256 of the contents, whole and per block (of nothing for entries that are not files).
    public var digest: ContentDigest
    /// Where the contents can be read again.
    public var content: ContentSource

    /// An entry whose contents are in memory (`data`).
    public init(path: String, kind: Kind, mode: UInt32 = 0o644, uid: Int = 0, gid: Int = 0, uname: String = "root",
                gname: String = "root", mtime: Int64? = nil, size: Int64? = nil, linkTarget: String? = nil,
                extra: [String: String] = [:], data: Data = Data()) throws {
        try self.init(path: path, kind: kind, mode: mode, uid: uid, gid: gid, uname: uname, gname: gname, mtime: mtime,
                      size: size ?? Int64(data.count), linkTarget: linkTarget, extra: extra,
                      digest: ContentDigest.of(data), content: .data(data))
    }

    /// An entry whose contents were digested as they streamed past and stay in `content`.
    public init(path: String, kind: Kind, mode: UInt32, uid: Int, gid: Int, uname: String, gname: String,
                mtime: Int64?, size: Int64, linkTarget: String?, extra: [String: String],
                digest: ContentDigest, content: ContentSource) {
        self.path = path; self.kind = kind; self.mode = mode; self.uid = uid; self.gid = gid; self.uname = uname
        self.gname = gname; self.mtime = mtime; self.size = size; self.linkTarget = linkTarget
        self.extra = extra; self.digest = digest; self.content = content
    }

    /// The contents when they are held in memory (OCI documents), else nil.
    public var inlineData: Data? {
        if case .data(let d) = content { return d }
        return nil
    }
}

/// What the differ compares: the artifact's digest and where its bytes are (for the first
/// differing byte), the digest of its decompressed stream (when it was compressed) and its
/// entries in archive order.
public struct Artifact: Sendable {
    /// How the artifact was read: `apk`, `tar`, `oci-layout`, `file`, `oci-image`.
    public var format: String
    public var path: String
    /// `sha256:<hex>` of the file (for an OCI layout: of its index.json, which names everything else).
    public var digest: String
    /// The artifact's own bytes (a file, or a document in memory).
    public var source: ContentSource
    /// The decompressed stream's digest, for gzip'd packages and layers (re-inflated from the file
    /// only to find the first differing byte).
    public var uncompressed: ContentDigest?
    public var entries: [ArtifactEntry]

    /// An artifact whose own bytes are `raw` (in memory).
    public init(format: String, path: String, digest: String, raw: Data, entries: [ArtifactEntry]) {
        self.init(format: format, path: path, digest: digest, source: .data(raw), entries: entries)
    }

    /// An artifact whose own bytes stay in `source`.
    public init(format: String, path: String, digest: String, source: ContentSource, uncompressed: ContentDigest? = nil,
                entries: [ArtifactEntry]) {
        self.format = format; self.path = path; self.digest = digest; self.source = source
        self.uncompressed = uncompressed; self.entries = entries
    }
}

public enum ReproError: KilnError, Equatable {
    case unreadable(path: String, reason: String)
    case invalid(String)
    public var description: String {
        switch self {
        case .unreadable(let p, let r): return "cannot read \(p): \(r)"
        case .invalid(let m): return m
        }
    }
}
