import Foundation
import KilnAPK
import KilnCore
import KilnOCI
import KilnFIPS
import KilnCrypto

/// What `Attestor.attach` may be told beyond what it reads from the image itself.
public struct AttachOptions: Sendable {
    /// Image name for SBOM and payload identity (default: the part of the tag before `:`, else the layout's folder name).
    public var imageName: String?
    /// The tag the image is known by (for the purl `tag` qualifier).
    public var tag: String?
    /// `standard` or `fips` (default: detected from the tag, annotations and installed packages).
    public var variant: String?
    public var sbomFormat: SBOMFormat = .both
    /// Where to write the SBOM files beside the layout (nil: not written).
    public var sbomDirectory: String?
    /// SBOM `created`; default $SOURCE_DATE_EPOCH, else the image config's `created`, else 0.
    public var sourceDateEpoch: Int64?
    /// The lock: resolved packages with .apk digests (default: from the installed database, without file digests).
    public var lockedPackages: [ResolvedPackage]?
    public var configName: String?
    public var configSHA256: String?
    public var fipsModule: ImageFIPSModule?
    public var startedOn: Int64?
    public var finishedOn: Int64?
    /// The `docker-reference` identity in the simple-signing payload (default: the image name).
    public var dockerReference: String?
    /// Sign the manifest (`.sig`) as well as attesting (`.att`).
    public var sign = true
    public var attest = true
    public var distro = "kiln"

    public init() {}
}

public struct AttachResult: Sendable {
    public var manifestDigest: String
    public var signatureTag: String?
    public var attestationTag: String?
    public var spdx: Data?
    public var cyclonedx: Data?
    public var provenance: Data?
    public var writtenFiles: [String]
}

/// Signs images and attaches attestations inside an OCI layout, the way cosign stores them in a
/// registry: `sha256-<hex>.sig` (simple signing) and `sha256-<hex>.att` (DSSE in-toto statements).
public enum Attestor {
    static let zeroTime = "0001-01-01T00:00:00Z"

    /// Builds the cosign-style artifact manifest for `layers` and tags it.
    static func writeArtifact(layout: OCILayout, layers: [OCIDescriptor], tag: String) throws -> OCIDescriptor {
        let config: JSON = .object([
            ("architecture", ""), ("created", .string(zeroTime)),
            ("history", [["created": .string(zeroTime)]]), ("os", ""),
            ("rootfs", ["type": "layers", "diff_ids": .array(layers.map { .string($0.digest) })]),
            ("config", .object([])),
        ])
        let cfg = try layout.writeBlob(config.compact(), mediaType: OCIMediaType.imageConfig)
        let manifest: JSON = .object([
            ("schemaVersion", 2), ("mediaType", .string(OCIMediaType.imageManifest)),
            ("config", cfg.json), ("layers", .array(layers.map(\.json))),
        ])
        let m = try layout.writeBlob(manifest.compact(), mediaType: OCIMediaType.imageManifest)
        try layout.setTag(tag, to: m)
        return m
    }

    /// The layers already under `tag` (empty when there is none).
    static func existingLayers(layout: OCILayout, tag: String) throws -> [OCIDescriptor] {
        guard let d = try layout.lookup(tag: tag) else { return [] }
        let j = try layout.readJSON(d)
        return try (j["layers"]?.array ?? []).enumerated().map { try OCIDescriptor(json: $0.element, source: "\(tag): layers[\($0.offset)]") }
    }

    /// Annotation on a signature layer made in FIPS mode: the provider's name, version and build
    /// info as OpenSSL reports them, and kiln's label for the module.
    public static let signerModuleAnnotation = "dev.kiln.signer.fips-module"

    /// Signs `manifest` with a simple-signing payload under `sha256-<hex>.sig`. Signatures by other keys are kept;
    /// an earlier signature by this key over the same payload is replaced — unless it is valid and was made by the
    /// same module: then the layout is left as it is (a rerun re-signs nothing).
    @discardableResult
    public static func sign(layout: OCILayout, manifestDigest: String, dockerReference: String, key: PrivateKey) throws -> OCIDescriptor {
        let payload = SimpleSigning.payload(dockerReference: dockerReference, manifestDigest: manifestDigest)
        let pub = try key.publicKey
        let tag = CosignTag.signature(for: manifestDigest)
        let payloadDigest = "sha256:" + (try Digest.sha256Hex(payload))
        // Which module makes the signature, when kiln runs in FIPS mode (`kiln --fips sign`).
        let module = try ActiveFIPSModule.current().map { "\($0.provider), \($0.label.rawValue)" }
        let existing = try existingLayers(layout: layout, tag: tag)
        func byThisKey(_ l: OCIDescriptor) -> Bool {
            guard l.digest == payloadDigest, let b64 = l.annotations[OCIMediaType.cosignSignature], let der = Base64.decode(b64),
                  let data = try? layout.readBlob(l) else { return false }
            return (try? pub.verify(signature: [UInt8](der), data: data, digest: .sha256)) == true
        }
        if existing.contains(where: { byThisKey($0) && $0.annotations[signerModuleAnnotation] == module }), let d = try layout.lookup(tag: tag) {
            return d
        }
        var layers = existing.filter { !byThisKey($0) }
        let sig = try key.sign(payload, digest: .sha256)
        var annotations = [OCIMediaType.cosignSignature: sig.base64String]
        if let module { annotations[signerModuleAnnotation] = module }
        let layer = try layout.writeBlob(payload, mediaType: OCIMediaType.simpleSigning, annotations: annotations)
        layers.append(layer)
        return try writeArtifact(layout: layout, layers: layers, tag: tag)
    }

    /// Wraps each statement in a DSSE envelope signed by `key` and stores them under `sha256-<hex>.att`
    /// (replacing earlier attestations of the same predicate types, in place). An earlier envelope with the
    /// same statement, validly signed by this key, is kept as it is: a rerun with nothing changed re-signs
    /// nothing and leaves the layout's bytes alone.
    @discardableResult
    public static func attest(layout: OCILayout, manifestDigest: String, statements: [(predicateType: String, statement: JSON)],
                              key: PrivateKey) throws -> OCIDescriptor {
        let tag = CosignTag.attestation(for: manifestDigest)
        let pub = try key.publicKey
        let existing = try existingLayers(layout: layout, tag: tag)
        var layers: [OCIDescriptor] = []
        var placed = Set<String>()
        func layer(for s: (predicateType: String, statement: JSON)) throws -> OCIDescriptor {
            let payload = s.statement.compact()
            for l in existing where l.annotations[OCIMediaType.predicateType] == s.predicateType {
                if let data = try? layout.readBlob(l), let j = try? JSON.parse(data, source: l.digest),
                   let env = try? DSSEEnvelope(json: j, source: l.digest), env.payload == payload, (try? env.verify(with: pub)) == true {
                    return l
                }
            }
            let env = try DSSEEnvelope.sign(payload: payload, key: key)
            return try layout.writeBlob(env.json.compact(), mediaType: OCIMediaType.dsseEnvelope,
                                        annotations: [OCIMediaType.predicateType: s.predicateType, OCIMediaType.cosignSignature: ""])
        }
        for l in existing {
            let t = l.annotations[OCIMediaType.predicateType] ?? ""
            guard let s = statements.first(where: { $0.predicateType == t }) else { layers.append(l); continue }
            if placed.insert(t).inserted { layers.append(try layer(for: s)) }
        }
        for s in statements where placed.insert(s.predicateType).inserted { layers.append(try layer(for: s)) }
        return try writeArtifact(layout: layout, layers: layers, tag: tag)
    }

    /// Parses an RFC 3339 UTC time (`2023-11-14T22:13:20Z`, fractional seconds ignored) to epoch seconds.
    static func parseTime(_ s: String) -> Int64? {
        let parts = s.split(whereSeparator: { "-T:Z.".contains($0) }).prefix(6).compactMap { Int32($0) }
        guard parts.count == 6, s.hasSuffix("Z") else { return nil }
        var t = tm()
        t.tm_year = parts[0] - 1900; t.tm_mon = parts[1] - 1; t.tm_mday = parts[2]
        t.tm_hour = parts[3]; t.tm_min = parts[4]; t.tm_sec = parts[5]
        let v = timegm(&t)
        return v < 0 ? nil : Int64(v)
    }

    /// Detects the variant from the tag, annotations/labels and installed packages.
    public static func detectVariant(tag: String?, contents: ImageContents, packages: [APKIndexRecord]) -> String {
        if let t = tag, t.hasSuffix("-fips") { return "fips" }
        for (k, v) in contents.annotationsAndLabels where k.lowercased().contains("variant") && v.lowercased() == "fips" { return "fips" }
        if packages.contains(where: { $0.name.hasPrefix(FIPSPackageName.provider) }) { return "fips" }
        return "standard"
    }

    /// Signs the image `manifestDigest` in `layout` and attaches its SBOM(s) and SLSA provenance, made from
    /// the image's own layers (installed database and per-package SBOMs) plus `options`.
    public static func attach(layout layoutPath: String, manifestDigest: String, options: AttachOptions = AttachOptions(),
                              key: PrivateKey) throws -> AttachResult {
        let layout = try OCILayout(path: layoutPath)
        let desc = try layout.resolve(manifestDigest)
        guard OCIMediaType.isManifest(desc.mediaType) else {
            throw AttestError("\(layoutPath): \(manifestDigest) is \(desc.mediaType); attach works on image manifests (sign an index's children)")
        }
        let tag = options.tag ?? desc.refName
        let name = options.imageName ?? tag.flatMap { t in t.contains(":") ? String(t.split(separator: ":")[0]) : nil }
            ?? URL(fileURLWithPath: layoutPath).standardizedFileURL.lastPathComponent
        var result = AttachResult(manifestDigest: manifestDigest, writtenFiles: [])
        if options.sign {
            try sign(layout: layout, manifestDigest: manifestDigest, dockerReference: options.dockerReference ?? name, key: key)
            result.signatureTag = CosignTag.signature(for: manifestDigest)
        }
        guard options.attest else { return result }

        let contents = try ImageContents.read(layout: layout, manifest: desc)
        guard let installed = try contents.installedPackages() else {
            throw AttestError("\(layoutPath): image \(manifestDigest) has no /\(ImageContents.installedDB); kiln makes SBOMs from apk's installed database")
        }
        var pkgSBOMs: [String: JSON] = [:]
        for (k, v) in contents.packageSBOMs() { pkgSBOMs[k] = try JSON.parse(v.data, source: "\(manifestDigest):/\(v.path)") }
        let epoch = options.sourceDateEpoch ?? SourceDateEpoch.fromEnvironment()
            ?? contents.config["created"]?.string.flatMap(parseTime) ?? 0
        let variant = options.variant ?? detectVariant(tag: tag, contents: contents, packages: installed)
        let fips = options.fipsModule ?? (variant == "fips"
            ? (ImageFIPSModule.fromAnnotations(contents.annotationsAndLabels, installed: installed) ?? ImageFIPSModule.fromInstalled(installed))
            : nil)
        var digests: [String: String] = [:]
        for l in options.lockedPackages ?? [] { if let d = l.sha256 { digests["\(l.name)-\(l.version)"] = d } }
        let sbom = try ImageSBOM(ImageSBOMInput(
            imageName: name, manifestDigest: manifestDigest, architecture: contents.architecture,
            tag: tag.flatMap { t in t.contains(":") ? String(t.split(separator: ":", maxSplits: 1)[1]) : t },
            variant: variant, packages: installed, packageSBOMs: pkgSBOMs, packageDigests: digests,
            fipsModule: fips, created: epoch, distro: options.distro))
        var statements: [(predicateType: String, statement: JSON)] = []
        let spdx = try sbom.spdx()
        statements.append((InToto.spdxPredicate, InToto.statement(subjectName: name, digest: manifestDigest, predicateType: InToto.spdxPredicate, predicate: spdx)))
        result.spdx = spdx.pretty()
        if options.sbomFormat.cyclonedx {
            let cdx = try sbom.cyclonedx()
            statements.append((InToto.cyclonedxPredicate, InToto.statement(subjectName: name, digest: manifestDigest, predicateType: InToto.cyclonedxPredicate, predicate: cdx)))
            result.cyclonedx = cdx.pretty()
        }
        let locked = options.lockedPackages ?? installed.map {
            ResolvedPackage(name: $0.name, version: $0.version, arch: $0.arch, checksum: $0.checksum.isEmpty ? nil : $0.checksum)
        }
        let cfgDigest = contents.manifest["config"]?["digest"]?.string
        let prov = Provenance.predicate(ProvenanceInput(
            configName: options.configName, configSHA256: options.configSHA256, variant: variant, packages: locked,
            fipsModule: fips, sourceDateEpoch: epoch, imageConfigDigest: cfgDigest,
            startedOn: options.startedOn, finishedOn: options.finishedOn), distro: options.distro)
        let provStatement = InToto.statement(subjectName: name, digest: manifestDigest, predicateType: InToto.slsaProvenance, predicate: prov)
        statements.append((InToto.slsaProvenance, provStatement))
        result.provenance = provStatement.pretty()
        try attest(layout: layout, manifestDigest: manifestDigest, statements: statements, key: key)
        result.attestationTag = CosignTag.attestation(for: manifestDigest)

        if let dir = options.sbomDirectory {
            let base = dir + "/" + (tag.map { $0.replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: ":", with: "_") }
                                    ?? "sha256-\(desc.hex)")
            if options.sbomFormat.spdx, let d = result.spdx { try AtomicFile.write(d, to: base + ".spdx.json"); result.writtenFiles.append(base + ".spdx.json") }
            if let d = result.cyclonedx { try AtomicFile.write(d, to: base + ".cdx.json"); result.writtenFiles.append(base + ".cdx.json") }
            if let d = result.provenance { try AtomicFile.write(d, to: base + ".provenance.json"); result.writtenFiles.append(base + ".provenance.json") }
        }
        return result
    }

    /// Reads a `kiln lock` file (KilnImage's LockFile JSON): config name and, per variant, the resolved
    /// packages with the sha256 of each .apk.
    public static func loadLock(path: String) throws -> (config: String?, variants: [String: [ResolvedPackage]]) {
        guard let d = FileManager.default.contents(atPath: path) else { throw AttestError("\(path): cannot read the lock file") }
        let j = try JSON.parse(d, source: path)
        guard let vs = j["variants"]?.object else { throw AttestError("\(path): not a kiln lock file (no variants)") }
        var out: [String: [ResolvedPackage]] = [:]
        for (v, entries) in vs {
            out[v] = try (entries.array ?? []).enumerated().map { i, e in
                guard let n = e["name"]?.string, let ver = e["version"]?.string else {
                    throw AttestError("\(path): variants.\(v)[\(i)] lacks name or version")
                }
                return ResolvedPackage(name: n, version: ver, arch: e["arch"]?.string ?? "", sha256: e["sha256"]?.string,
                                       checksum: e["checksum"]?.string)
            }
        }
        return (j["config"]?.string, out)
    }

    /// The image manifests a `LAYOUT[:TAG]` names: the tagged one, or every image entry of index.json
    /// (artifact tags `sha256-….sig|att|sbom` excluded). An index entry contributes its child manifests.
    public static func targets(layout: OCILayout, tag: String?) throws -> [(descriptor: OCIDescriptor, tag: String?)] {
        let entries: [OCIDescriptor]
        if let tag { entries = [try layout.resolve(tag)] } else {
            entries = try layout.manifests().filter { !CosignTag.isArtifactTag($0.refName ?? "") }
        }
        var out: [(OCIDescriptor, String?)] = []
        var seen = Set<String>()
        for e in entries {
            for m in try layout.imageManifests(of: e) where !seen.contains(m.digest) {
                seen.insert(m.digest)
                out.append((m, m.digest == e.digest ? e.refName : e.refName))
            }
        }
        if out.isEmpty { throw AttestError("\(layout.path): index.json lists no images") }
        return out
    }
}
