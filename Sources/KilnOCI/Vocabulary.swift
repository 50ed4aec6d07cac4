import Foundation
import KilnCore
import KilnCrypto

/// OCI media types and annotation keys kiln reads and writes (the one list: images, attestations, repro).
public enum OCIMediaType {
    /// OCI image index.
    public static let imageIndex = "application/vnd.oci.image.index.v1+json"
    /// OCI image manifest.
    public static let imageManifest = "application/vnd.oci.image.manifest.v1+json"
    /// OCI image configuration.
    public static let imageConfig = "application/vnd.oci.image.config.v1+json"
    /// A gzip-compressed tar layer.
    public static let imageLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
    /// Docker v2 manifest (read only).
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    /// Docker manifest list (read only).
    public static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
    /// cosign simple-signing payload layer.
    public static let simpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json"
    /// DSSE envelope layer (attestations).
    public static let dsseEnvelope = "application/vnd.dsse.envelope.v1+json"
    /// The annotation holding a manifest's tag in `index.json`.
    public static let refName = "org.opencontainers.image.ref.name"
    /// kiln's annotation naming an image manifest's variant (`standard`, `fips`).
    public static let kilnVariant = "dev.kiln.variant"
    /// The annotation holding a cosign signature (base64).
    public static let cosignSignature = "dev.cosignproject.cosign/signature"
    /// The annotation naming an attestation's predicate type.
    public static let predicateType = "predicateType"

    /// Whether `t` is an image manifest media type (OCI or Docker).
    public static func isManifest(_ t: String) -> Bool { t == imageManifest || t == dockerManifest }
    /// Whether `t` is an index media type (OCI or Docker).
    public static func isIndex(_ t: String) -> Bool { t == imageIndex || t == dockerManifestList }
}

/// A validated OCI content digest: `sha256:` and 64 lower-case hex digits (kiln reads and writes
/// sha256 layouts only). Parsing it before building a blob path keeps `../` and other algorithms
/// out of file names.
public struct OCIDigest: Hashable, Sendable, CustomStringConvertible {
    /// The 64 hex digits.
    public let hex: String

    /// Parses `text`; the error names `source`.
    public init(parsing text: String, source: String) throws {
        guard text.hasPrefix("sha256:") else {
            throw KilnMessage("\(source): digest \(text) is not sha256 (kiln reads sha256 layouts only)")
        }
        let h = text.dropFirst(7)
        guard h.count == 64, h.allSatisfy({ ("0"..."9").contains($0) || ("a"..."f").contains($0) }) else {
            throw KilnMessage("\(source): malformed digest \(text)")
        }
        hex = String(h)
    }

    /// The digest of `data`.
    public init(of data: Data) throws { hex = try Digest.sha256Hex(data) }

    /// `sha256:<hex>`.
    public var description: String { "sha256:" + hex }

    /// `<layout>/blobs/sha256/<hex>`.
    public func blobPath(inLayout layout: String) -> String { layout + "/blobs/sha256/" + hex }
}

/// `LAYOUT[:TAG]` as every subcommand takes it (`kiln run`, `sign`, `verify`): the whole argument
/// when it is a directory, else the shortest prefix before a `:` that holds `oci-layout` (so layout
/// paths may contain `:`).
public struct LayoutReference: Equatable, Sendable {
    /// The layout directory.
    public var layout: String
    /// The tag after `:`, if any.
    public var tag: String?

    /// A reference to `tag` (or the only image) in `layout`.
    public init(layout: String, tag: String?) { self.layout = layout; self.tag = tag }

    /// Parses `LAYOUT[:TAG]`; throws when no layout is found.
    public static func parse(_ s: String) throws -> LayoutReference {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: s, isDirectory: &isDir), isDir.boolValue {
            return LayoutReference(layout: s, tag: nil)
        }
        var idx = s.startIndex
        while let c = s[idx...].firstIndex(of: ":") {
            let dir = String(s[..<c])
            if !dir.isEmpty, FileManager.default.fileExists(atPath: dir + "/oci-layout") {
                let tag = String(s[s.index(after: c)...])
                return LayoutReference(layout: dir, tag: tag.isEmpty ? nil : tag)
            }
            idx = s.index(after: c)
        }
        throw KilnMessage("\(s): no OCI layout there (expected LAYOUT or LAYOUT:TAG with LAYOUT a directory holding oci-layout)")
    }
}


extension OCIMediaType {
    /// `artifactType` of a cosign signature pushed as an OCI 1.1 referrer.
    public static let cosignSignatureArtifact = "application/vnd.dev.cosign.artifact.sig.v1+json"
    /// `artifactType` of cosign attestations pushed as an OCI 1.1 referrer.
    public static let cosignAttestationArtifact = "application/vnd.dev.cosign.artifact.att.v1+json"
}

extension CosignTag {
    /// The distribution-spec referrers fallback tag for a digest: `sha256:<hex>` → `sha256-<hex>`.
    public static func referrersFallback(for digest: String) -> String { digest.replacingOccurrences(of: ":", with: "-") }
}
