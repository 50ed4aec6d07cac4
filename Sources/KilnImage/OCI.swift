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

        /// An image config with every field given.
        public init(created: String?, architecture: String, os: String, config: Config, rootfs: RootFS, history: [History]) {
            self.created = created; self.architecture = architecture; self.os = os
            self.config = config; self.rootfs = rootfs; self.history = history
        }

        /// Decodes a config; `config` and `history` are optional in the image spec (absent: empty).
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            created = try c.decodeIfPresent(String.self, forKey: .created)
            architecture = try c.decode(String.self, forKey: .architecture)
            os = try c.decode(String.self, forKey: .os)
            config = try c.decodeIfPresent(Config.self, forKey: .config) ?? Config()
            rootfs = try c.decode(RootFS.self, forKey: .rootfs)
            history = try c.decodeIfPresent([History].self, forKey: .history) ?? []
        }
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

    /// A decoding error as "missing key `x` at a.b" (not Swift's debug dump).
    public static func describe(_ e: DecodingError) -> String {
        func path(_ c: DecodingError.Context) -> String {
            let p = c.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            return p.isEmpty ? "" : " at \(p)"
        }
        switch e {
        case .keyNotFound(let k, let c): return "missing key `\(k.stringValue)`\(path(c))"
        case .typeMismatch(_, let c), .valueNotFound(_, let c): return "wrong type\(path(c)): \(c.debugDescription)"
        case .dataCorrupted(let c): return "\(c.debugDescription)\(path(c))"
        @unknown default: return "\(e)"
        }
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
            throw KilnMessage("\(indexPath): unreadable index.json: \((error as? DecodingError).map(OCI.describe) ?? "\(error)")")
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
        let m: OCI.Manifest
        do { m = try JSONDecoder().decode(OCI.Manifest.self, from: try readBlob(digest: d.digest)) } catch let e as DecodingError {
            throw KilnMessage("\(path): manifest \(d.digest) is not a valid OCI image manifest: \(OCI.describe(e))")
        }
        return (d, m)
    }
}
