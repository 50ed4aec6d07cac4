import Foundation

/// A descriptor's `platform` (the part kiln writes: architecture and os).
public struct OCIPlatform: Codable, Hashable, Sendable {
    /// GOARCH-style architecture (`amd64`).
    public var architecture: String
    /// `linux`.
    public var os: String

    /// A platform.
    public init(architecture: String, os: String) { self.architecture = architecture; self.os = os }
}

extension OCIDescriptor {
    /// The descriptor's `platform`, kept among the `extra` fields so a descriptor read from a
    /// layout is written back unchanged; nil when absent or not `{architecture, os}` strings.
    public var platform: OCIPlatform? {
        get {
            guard let p = extra.first(where: { $0.0 == "platform" })?.1,
                  let a = p["architecture"]?.string, let o = p["os"]?.string else { return nil }
            return OCIPlatform(architecture: a, os: o)
        }
        set {
            extra.removeAll { $0.0 == "platform" }
            if let newValue {
                extra.append(("platform", .object([("architecture", .string(newValue.architecture)), ("os", .string(newValue.os))])))
            }
        }
    }
}

/// Codable for KilnImage's manifests and index, which are encoded with sorted keys (the bytes
/// `kiln image` writes): `mediaType`, `digest`, `size`, then `annotations` (when not empty),
/// `platform` and `artifactType` (when set). Other extra fields are not encoded this way.
extension OCIDescriptor: Codable {
    enum CodingKeys: String, CodingKey { case mediaType, digest, size, annotations, platform, artifactType }

    /// Decodes a descriptor (annotations default to none).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(mediaType: try c.decode(String.self, forKey: .mediaType), digest: try c.decode(String.self, forKey: .digest),
                  size: try c.decode(Int64.self, forKey: .size),
                  annotations: try c.decodeIfPresent([String: String].self, forKey: .annotations) ?? [:],
                  artifactType: try c.decodeIfPresent(String.self, forKey: .artifactType))
        platform = try c.decodeIfPresent(OCIPlatform.self, forKey: .platform)
    }

    /// Encodes the fields listed above.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(mediaType, forKey: .mediaType)
        try c.encode(digest, forKey: .digest)
        try c.encode(size, forKey: .size)
        if !annotations.isEmpty { try c.encode(annotations, forKey: .annotations) }
        try c.encodeIfPresent(platform, forKey: .platform)
        try c.encodeIfPresent(artifactType, forKey: .artifactType)
    }
}
