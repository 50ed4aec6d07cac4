import Foundation
import KilnCore

/// What a FIPS provider package says about itself: `usr/share/kiln/fips-module.json` inside the
/// package (and the same facts in the SBOM). Written by kiln at build time from the registry, never
/// by the recipe, so a recipe cannot claim `validated`.
public struct FIPSModuleIdentity: Codable, Sendable, Equatable {
    public struct Source: Codable, Sendable, Equatable {
        public var uri: String
        public var sha256: String
    }
    public struct Certificate: Codable, Sendable, Equatable {
        public var number: String
        public var standard: String
        public var status: String
        public var sunset: String
    }
    public struct Registry: Codable, Sendable, Equatable {
        public var path: String
        public var sha256: String
    }

    public var schema = FIPSModuleIdentity.schemaID
    public var label: FIPSLabel
    /// Module name and version as built (e.g. "OpenSSL FIPS Provider", "3.0.22").
    public var name: String
    public var version: String
    /// The package that carries the module (e.g. openssl-fips-provider).
    public var package: String
    public var source: Source
    /// The matched certificate, when the source is a listed module (even if no longer active).
    public var certificate: Certificate?
    public var reason: String
    /// Build date (SOURCE_DATE_EPOCH) as RFC 3339.
    public var buildDate: String
    public var registry: Registry

    public static let schemaID = "https://kiln.dev/fips-module/v1"
    /// Path of the identity file inside a package.
    public static let packagePath = "usr/share/kiln/fips-module.json"
    /// Where a provider package keeps its module (the presence of `fips.so` here triggers stamping).
    public static let modulePath = "usr/lib/ossl-modules/fips.so"

    public init(classification c: FIPSClassification, package: String, version: String, sourceURI: String,
                sourceSHA256: String, buildEpoch: Int64, registry: FIPSModuleRegistry) {
        label = c.label
        name = c.module?.name ?? "OpenSSL FIPS Provider"
        self.version = version
        self.package = package
        source = Source(uri: sourceURI, sha256: sourceSHA256.lowercased())
        certificate = c.module.map { Certificate(number: $0.certificate, standard: $0.standard, status: $0.status, sunset: $0.sunset) }
        reason = c.reason
        buildDate = SourceDateEpoch.rfc3339(buildEpoch)
        self.registry = Registry(path: registry.source, sha256: registry.digest)
    }

    /// Deterministic JSON (sorted keys, trailing newline).
    public func json() throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        var d = try enc.encode(self)
        d.append(0x0A)
        return d
    }

    public static func decode(_ data: Data, source: String) throws -> FIPSModuleIdentity {
        do { return try JSONDecoder().decode(FIPSModuleIdentity.self, from: data) } catch {
            throw FIPSRegistryError(message: "\(source): not a kiln FIPS module identity: \(error)")
        }
    }

    /// Reads the identity from an unpacked package (or image) root, nil if it has none.
    public static func read(root: String) throws -> FIPSModuleIdentity? {
        let p = "\(root)/\(packagePath)"
        guard let d = FileManager.default.contents(atPath: p) else { return nil }
        return try decode(d, source: p)
    }
}

/// Build-time stamping: if a package tree holds a FIPS provider, classify it against the registry
/// and write `usr/share/kiln/fips-module.json` into the tree.
public enum FIPSModuleStamper {
    /// - Parameters:
    ///   - packageRoot: the package's install tree (its `usr/lib/ossl-modules/fips.so` marks a provider).
    ///   - sources: the recipe's fetched sources (uri, sha256); the module's tarball is the one whose
    ///     digest the registry lists, else the first.
    /// - Returns: the identity written, or nil when the tree has no provider.
    @discardableResult
    public static func stamp(packageRoot: String, package: String, version: String,
                             sources: [(uri: String, sha256: String)], buildEpoch: Int64,
                             registry: FIPSModuleRegistry) throws -> FIPSModuleIdentity? {
        guard FileManager.default.fileExists(atPath: "\(packageRoot)/\(FIPSModuleIdentity.modulePath)") else { return nil }
        guard !sources.isEmpty else {
            throw FIPSRegistryError(message: "package \(package) holds \(FIPSModuleIdentity.modulePath) but its recipe fetches no pinned source; a FIPS provider must be built from a pinned tarball")
        }
        let listed = sources.first { s in registry.modules.contains { $0.sha256 == s.sha256.lowercased() } }
        let src = listed ?? sources[0]
        let c = registry.classify(tarballSHA256: src.sha256, buildEpoch: buildEpoch)
        let id = FIPSModuleIdentity(classification: c, package: package, version: version, sourceURI: src.uri,
                                    sourceSHA256: src.sha256, buildEpoch: buildEpoch, registry: registry)
        let path = "\(packageRoot)/\(FIPSModuleIdentity.packagePath)"
        // Directories this adds are 0755 whatever kiln's umask (`kiln repro` varies it), like the
        // sandbox's umask 022 makes the rest of the tree.
        var dirs: [String] = []
        var d = (path as NSString).deletingLastPathComponent
        while d.count > packageRoot.count && !FileManager.default.fileExists(atPath: d) {
            dirs.insert(d, at: 0); d = (d as NSString).deletingLastPathComponent
        }
        for dir in dirs {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
            chmod(dir, 0o755)
        }
        try AtomicFile.write(try id.json(), to: path)
        // Same timestamps as the rest of the tree (SOURCE_DATE_EPOCH).
        var ts = [timespec(tv_sec: Int(buildEpoch), tv_nsec: 0), timespec(tv_sec: Int(buildEpoch), tv_nsec: 0)]
        for p in [path, (path as NSString).deletingLastPathComponent, "\(packageRoot)/usr/share"] {
            _ = utimensat(AT_FDCWD, p, &ts, AT_SYMLINK_NOFOLLOW)
        }
        return id
    }
}
