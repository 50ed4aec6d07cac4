import Foundation
import KilnCore
import KilnOCI
import KilnCrypto

/// OCI image-spec media types and JSON documents, encoded deterministically (sorted keys).
public enum OCI {

    public struct ImageConfig: Codable, Sendable {
        public struct Config: Codable, Sendable {
            public var Env: [String]?
            public var Entrypoint: [String]?
            public var Cmd: [String]?
            public var User: String?
            public var WorkingDir: String?
            public var StopSignal: String?
            public var Volumes: [String: [String: String]]?
            public var Labels: [String: String]?
        }
        public struct RootFS: Codable, Sendable {
            public var type = "layers"
            public var diff_ids: [String]
        }
        public struct History: Codable, Sendable {
            public var created: String?
            public var created_by: String?
            public var comment: String?
            public var empty_layer: Bool?
        }
        public var created: String?
        public var architecture: String
        public var os: String
        public var config: Config
        public var rootfs: RootFS
        public var history: [History]
    }

    public struct Manifest: Codable, Sendable {
        public var schemaVersion = 2
        public var mediaType = OCIMediaType.imageManifest
        public var config: OCIDescriptor
        public var layers: [OCIDescriptor]
        public var annotations: [String: String]?
    }

    public struct Index: Codable, Sendable {
        public var schemaVersion = 2
        public var mediaType: String? = OCIMediaType.imageIndex
        public var manifests: [OCIDescriptor]
        public var annotations: [String: String]?
    }

    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try e.encode(value)
    }
}

/// What the image builder and `kiln run` need from KilnOCI's `OCILayout` in KilnImage's Codable
/// model (`OCIDescriptor`, `OCI.Manifest`, `OCI.Index` encoded with sorted keys — the bytes `kiln image`
/// has always written).
extension OCILayout {
    /// Writes a blob (atomically) and returns its descriptor.
    @discardableResult
    public func writeImageBlob(_ data: Data, mediaType: String) throws -> OCIDescriptor {
        try writeBlob(data, mediaType: mediaType)
    }

    /// Replaces `index.json` with an index of `manifests`.
    public func writeImageIndex(_ manifests: [OCIDescriptor]) throws {
        try AtomicFile.write(try OCI.encode(OCI.Index(manifests: manifests)), to: indexPath)
    }

    /// `index.json` decoded into KilnImage's model.
    public func readImageIndex() throws -> OCI.Index {
        guard let d = FileManager.default.contents(atPath: indexPath) else {
            throw KilnMessage("\(indexPath): not an OCI image layout (no index.json); build one with `kiln image`")
        }
        do { return try JSONDecoder().decode(OCI.Index.self, from: d) } catch {
            throw KilnMessage("\(indexPath): unreadable index.json: \(error)")
        }
    }

    /// Finds the manifest tagged `ref` (`org.opencontainers.image.ref.name`, full `name:version` or
    /// just the version part); with no ref, the only manifest (or the first).
    public func imageManifest(ref: String?) throws -> (descriptor: OCIDescriptor, manifest: OCI.Manifest) {
        let index = try readImageIndex()
        let d: OCIDescriptor?
        if let ref {
            d = index.manifests.first { $0.annotations[OCIMediaType.refName] == ref }
                ?? index.manifests.first { ($0.annotations[OCIMediaType.refName]).map { $0.hasSuffix(":" + ref) } ?? false }
        } else {
            d = index.manifests.first
        }
        guard let d else {
            let tags = index.manifests.compactMap { $0.annotations[OCIMediaType.refName] }
            throw KilnMessage("\(path): no image tagged '\(ref ?? "")' (tags: \(tags.joined(separator: ", ")))")
        }
        let m = try JSONDecoder().decode(OCI.Manifest.self, from: try readBlob(digest: d.digest))
        return (d, m)
    }
}
