import Foundation
import KilnOCI
import KilnCore

/// One entry of an artifact as the differ sees it: a tar member of a package or layer, or a JSON
/// document of an OCI layout (index, manifest, config).
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
    public var data: Data

    public init(path: String, kind: Kind, mode: UInt32 = 0o644, uid: Int = 0, gid: Int = 0, uname: String = "root",
                gname: String = "root", mtime: Int64? = nil, size: Int64? = nil, linkTarget: String? = nil,
                extra: [String: String] = [:], data: Data = Data()) {
        self.path = path; self.kind = kind; self.mode = mode; self.uid = uid; self.gid = gid; self.uname = uname
        self.gname = gname; self.mtime = mtime; self.size = size ?? Int64(data.count); self.linkTarget = linkTarget
        self.extra = extra; self.data = data
    }
}

/// What the differ compares: a file's bytes (for the verdict and the first differing byte), the
/// bytes after decompression (when it was compressed) and its entries in archive order.
public struct Artifact: Sendable {
    /// How the artifact was read: `apk`, `tar`, `oci-layout`, `file`.
    public var format: String
    public var path: String
    /// `sha256:<hex>` of the file (for an OCI layout: of its index.json, which names everything else).
    public var digest: String
    public var raw: Data
    public var uncompressed: Data?
    public var entries: [ArtifactEntry]
    public init(format: String, path: String, digest: String, raw: Data, uncompressed: Data? = nil, entries: [ArtifactEntry]) {
        self.format = format; self.path = path; self.digest = digest; self.raw = raw
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
