import Foundation
import KilnAPK
import KilnCore
import KilnOCI
import KilnFIPS
import KilnCrypto

/// in-toto Statement v1 and the predicate types kiln attaches.
public enum InToto {
    public static let statementType = "https://in-toto.io/Statement/v1"
    public static let spdxPredicate = "https://spdx.dev/Document"
    public static let cyclonedxPredicate = "https://cyclonedx.org/bom"
    public static let slsaProvenance = "https://slsa.dev/provenance/v1"
    /// kiln's FIPS boundary audit result (made by KilnAudit, required by `verify --require-fips`).
    public static let fipsBoundaryPredicate = "https://kiln.dev/attestations/fips-boundary/v1"

    public static func statement(subjectName: String, digest: String, predicateType: String, predicate: JSON) -> JSON {
        .object([
            ("_type", .string(statementType)),
            ("subject", [["name": .string(subjectName), "digest": ["sha256": .string(String(digest.dropFirst("sha256:".count)))]]]),
            ("predicateType", .string(predicateType)),
            ("predicate", predicate),
        ])
    }
}

/// A package the image was built from, as pinned by the lock: name, version, and the sha256 of its .apk.
public struct ResolvedPackage: Equatable, Sendable {
    public var name: String
    public var version: String
    public var arch: String
    public var sha256: String?
    public var uri: String?
    public var checksum: String?      // apk Q1 identity, when no file digest is known

    public init(name: String, version: String, arch: String = "", sha256: String? = nil, uri: String? = nil, checksum: String? = nil) {
        self.name = name; self.version = version; self.arch = arch; self.sha256 = sha256; self.uri = uri; self.checksum = checksum
    }
}

/// Inputs of the SLSA v1 provenance predicate. `startedOn`/`finishedOn` are the only run-specific
/// fields (documented as such); everything else must be the same for the same inputs.
public struct ProvenanceInput: Sendable {
    public var configName: String?           // e.g. recipes/images/hello.yaml (as given, relative)
    public var configSHA256: String?
    public var variant: String?
    public var packages: [ResolvedPackage]
    public var fipsModule: ImageFIPSModule?
    public var sourceDateEpoch: Int64
    public var imageConfigDigest: String?    // OCI config blob (sha256:…)
    public var startedOn: Int64?
    public var finishedOn: Int64?
    public var extraParameters: [(String, String)]

    public init(configName: String? = nil, configSHA256: String? = nil, variant: String? = nil, packages: [ResolvedPackage] = [],
                fipsModule: ImageFIPSModule? = nil, sourceDateEpoch: Int64, imageConfigDigest: String? = nil,
                startedOn: Int64? = nil, finishedOn: Int64? = nil, extraParameters: [(String, String)] = []) {
        self.configName = configName; self.configSHA256 = configSHA256; self.variant = variant; self.packages = packages
        self.fipsModule = fipsModule; self.sourceDateEpoch = sourceDateEpoch; self.imageConfigDigest = imageConfigDigest
        self.startedOn = startedOn; self.finishedOn = finishedOn; self.extraParameters = extraParameters
    }
}

public enum Provenance {
    public static let buildType = "https://kiln.dev/buildtypes/image/v1"
    public static let builderID = "https://kiln.dev/builders/kiln/v1"

    /// The SLSA Provenance v1 predicate.
    public static func predicate(_ p: ProvenanceInput, distro: String = "kiln") -> JSON {
        var ext: [(String, JSON)] = []
        if let c = p.configName { ext.append(("config", .string(c))) }
        if let v = p.variant { ext.append(("variant", .string(v))) }
        for (k, v) in p.extraParameters.sorted(by: { $0.0 < $1.0 }) { ext.append((k, .string(v))) }
        var internalParams: [(String, JSON)] = [("sourceDateEpoch", .int(p.sourceDateEpoch)), ("kilnVersion", .string(KilnVersion.current))]
        if let f = p.fipsModule { internalParams.append(("fipsModule", f.json)) }
        var deps: [JSON] = []
        if let c = p.configName {
            var o: [(String, JSON)] = [("name", .string(c)), ("uri", .string("file:" + c))]
            if let d = p.configSHA256 { o.append(("digest", ["sha256": .string(d)])) }
            o.append(("mediaType", "application/yaml"))
            deps.append(.object(o))
        }
        for r in p.packages.sorted(by: { ($0.name, $0.version) < ($1.name, $1.version) }) {
            let purl = APKPurl.make(name: r.name, version: r.version, arch: r.arch, distro: distro)
            var o: [(String, JSON)] = [("name", .string(r.name)), ("uri", .string(r.uri ?? purl))]
            if let d = r.sha256 { o.append(("digest", ["sha256": .string(d)])) }
            if let q = r.checksum, r.sha256 == nil { o.append(("annotations", ["apkChecksum": .string(q)])) }
            deps.append(.object(o))
        }
        var builderVersion: [(String, JSON)] = [("kiln", .string(KilnVersion.current))]
        if let f = p.fipsModule { builderVersion.append(("fipsModule", .string("\(f.name) \(f.version) (\(f.label.rawValue))"))) }
        var meta: [(String, JSON)] = []
        if let s = p.startedOn { meta.append(("startedOn", .string(SourceDateEpoch.rfc3339(s)))) }
        if let f = p.finishedOn { meta.append(("finishedOn", .string(SourceDateEpoch.rfc3339(f)))) }
        var run: [(String, JSON)] = [("builder", .object([("id", .string(builderID)), ("version", .object(builderVersion))]))]
        if !meta.isEmpty { run.append(("metadata", .object(meta))) }
        if let c = p.imageConfigDigest {
            run.append(("byproducts", [["name": "image-config", "digest": ["sha256": .string(String(c.dropFirst("sha256:".count)))],
                                        "mediaType": .string(OCIMediaType.imageConfig)]]))
        }
        var bd: [(String, JSON)] = [("buildType", .string(buildType)), ("externalParameters", .object(ext)),
                                    ("internalParameters", .object(internalParams))]
        bd.append(("resolvedDependencies", .array(deps)))
        return .object([("buildDefinition", .object(bd)), ("runDetails", .object(run))])
    }
}
