import Foundation
import KilnAPK
import KilnCore
import KilnOCI
import KilnFIPS
import KilnCrypto

/// One line of `kiln verify`.
public struct VerifyCheck: Equatable, Sendable {
    public var check: String
    public var ok: Bool
    public var detail: String
    public var line: String { (ok ? "ok    " : "FAIL  ") + check + ": " + detail }
    public var json: JSON { ["check": .string(check), "ok": .bool(ok), "detail": .string(detail)] }
}

/// One row of the closing table: what was verified for one image.
public struct ImageSummary: Equatable, Sendable {
    public var image: String
    public var variant: String
    public var digest: String
    public var size: Int64          // manifest + config + layers, compressed bytes
    public var packages: Int
    public var fipsLabel: String    // validated (CMVP #N) | fips-capable | -
    /// The verdict of the image's verified FIPS boundary attestation (`pass`, `fail`), `-` when it has none.
    public var boundary: String = "-"
    public var verified: Bool
    public var json: JSON {
        ["image": .string(image), "variant": .string(variant), "digest": .string(digest), "size": .int(size),
         "packages": .int(Int64(packages)), "fips": .string(fipsLabel), "boundary": .string(boundary), "verified": .bool(verified)]
    }
}

/// Raised by the verifier at the first failed check (its description is the reason).
public struct VerificationFailure: KilnError, Equatable {
    public var check: VerifyCheck
    public var description: String { "verification failed: \(check.check): \(check.detail)" }
}

/// Offline verification of an OCI layout: blob digests and sizes, cosign simple-signing signatures,
/// DSSE attestations (signature and subject), SBOM vs installed packages, and optionally the FIPS variant.
/// Checks are reported through `report` as they are made; the first failure throws.
public struct Verifier {
    public var layout: OCILayout
    public var tag: String?
    public var key: PublicKey
    public var requireFIPS: Bool
    public var report: (VerifyCheck) -> Void
    /// Called once per image that passed every check.
    public var imageVerified: (ImageSummary) -> Void = { _ in }
    /// Predicate types that must be attested for every image.
    public var requiredPredicates = [InToto.spdxPredicate, InToto.slsaProvenance]

    public init(layout: OCILayout, tag: String?, key: PublicKey, requireFIPS: Bool = false, report: @escaping (VerifyCheck) -> Void = { _ in }) {
        self.layout = layout; self.tag = tag; self.key = key; self.requireFIPS = requireFIPS; self.report = report
    }

    private func pass(_ check: String, _ detail: String) { report(VerifyCheck(check: check, ok: true, detail: detail)) }

    private func fail(_ check: String, _ detail: String) -> VerificationFailure {
        let c = VerifyCheck(check: check, ok: false, detail: detail)
        report(c)
        return VerificationFailure(check: c)
    }

    static func short(_ digest: String) -> String { String(digest.prefix(7 + 12)) }

    /// Checks a blob's size and sha256 against its descriptor (streamed from disk).
    func checkBlob(_ d: OCIDescriptor, role: String) throws {
        let name = "blob \(role)"
        let p: String
        do { p = try layout.blobPath(d.digest) } catch { throw fail(name, "\(d.digest): \(error)") }
        guard let attrs = try? FileManager.default.attributesOfItem(atPath: p), let size = attrs[.size] as? NSNumber else {
            throw fail(name, "\(d.digest) is missing from blobs/sha256")
        }
        guard size.int64Value == d.size else {
            throw fail(name, "\(d.digest) is \(size.int64Value) bytes, the descriptor says \(d.size)")
        }
        let hex: String
        do { hex = try Digest.hashFile(.sha256, path: p).hexString } catch { throw fail(name, "\(d.digest): cannot read: \(error)") }
        guard "sha256:" + hex == d.digest else {
            throw fail(name, "\(d.digest) has content digest sha256:\(hex) (\(d.mediaType)) — the blob was modified")
        }
        pass(name, "\(Verifier.short(d.digest))… \(d.size) bytes")
    }

    func parseJSON(_ d: OCIDescriptor, role: String) throws -> JSON {
        do { return try layout.readJSON(d) } catch { throw fail("blob \(role)", "\(error)") }
    }

    /// Checks a manifest blob, its config and layers; returns the parsed manifest and its layer descriptors.
    func checkManifestBlobs(_ d: OCIDescriptor, role: String) throws -> (JSON, [OCIDescriptor]) {
        try checkBlob(d, role: "\(role) manifest")
        let m = try parseJSON(d, role: "\(role) manifest")
        guard let cj = m["config"] else { throw fail("blob \(role) manifest", "\(d.digest) has no config descriptor") }
        let cfg: OCIDescriptor
        do { cfg = try OCIDescriptor(json: cj, source: "\(d.digest): config") } catch { throw fail("blob \(role) config", "\(error)") }
        try checkBlob(cfg, role: "\(role) config")
        var layers: [OCIDescriptor] = []
        for (i, lj) in (m["layers"]?.array ?? []).enumerated() {
            let l: OCIDescriptor
            do { l = try OCIDescriptor(json: lj, source: "\(d.digest): layers[\(i)]") } catch { throw fail("blob \(role) layer \(i)", "\(error)") }
            try checkBlob(l, role: "\(role) layer \(i)")
            layers.append(l)
        }
        return (m, layers)
    }

    /// Runs every check; returns the checks made. Throws VerificationFailure at the first failed one.
    @discardableResult
    public func run() throws -> [VerifyCheck] {
        var all: [VerifyCheck] = []
        var v = self
        let outer = report
        v.report = { all.append($0); outer($0) }
        v.imageVerified = imageVerified
        try v.runChecks()
        return all
    }

    private func runChecks() throws {
        let targets: [(descriptor: OCIDescriptor, tag: String?)]
        do { targets = try Attestor.targets(layout: layout, tag: tag) } catch { throw fail("layout", "\(error)") }
        pass("layout", "\(layout.path): \(targets.count) image(s) to verify")
        for t in targets { try verifyImage(t.descriptor, tag: t.tag) }
    }

    private func verifyImage(_ d: OCIDescriptor, tag: String?) throws {
        let label = tag ?? Verifier.short(d.digest)
        if tag != nil, let top = try? layout.resolve(tag!), OCIMediaType.isIndex(top.mediaType) {
            try checkBlob(top, role: "\(label) index")
        }
        let (manifestJSON, layers) = try checkManifestBlobs(d, role: label)
        let imageSize = d.size + (manifestJSON["config"]?["size"]?.int ?? 0) + layers.reduce(0) { $0 + $1.size }

        // Signature (.sig)
        let sigTag = CosignTag.signature(for: d.digest)
        guard let sigDesc = try layout.lookup(tag: sigTag) else {
            throw fail("signature \(label)", "no signature: tag \(sigTag) is not in index.json (sign with `kiln sign`)")
        }
        let (_, sigLayers) = try checkManifestBlobs(sigDesc, role: "\(label) signature")
        var reasons: [String] = []
        var verified = false
        for l in sigLayers where l.mediaType == OCIMediaType.simpleSigning {
            guard let b64 = l.annotations[OCIMediaType.cosignSignature], let der = Base64.decode(b64), !der.isEmpty else {
                reasons.append("layer \(Verifier.short(l.digest))… has no \(OCIMediaType.cosignSignature) annotation"); continue
            }
            let payload = try layout.readBlob(l)
            let ok = (try? key.verify(signature: [UInt8](der), data: payload, digest: .sha256)) == true
            guard ok else { reasons.append("the signature on payload \(Verifier.short(l.digest))… does not verify with the key"); continue }
            let named: String
            do { named = try SimpleSigning.manifestDigest(in: payload, source: "payload \(l.digest)") } catch { reasons.append("\(error)"); continue }
            guard named == d.digest else { reasons.append("the signed payload names \(named), not this image's \(d.digest)"); continue }
            verified = true
            break
        }
        guard verified else {
            throw fail("signature \(label)", reasons.isEmpty ? "\(sigTag) holds no simple-signing layer" : reasons.joined(separator: "; "))
        }
        pass("signature \(label)", "ECDSA P-256/SHA-256 simple-signing signature verifies and names \(Verifier.short(d.digest))…")

        // Attestations (.att)
        let attTag = CosignTag.attestation(for: d.digest)
        guard let attDesc = try layout.lookup(tag: attTag) else {
            throw fail("attestations \(label)", "no attestations: tag \(attTag) is not in index.json (attach them with `kiln sign`)")
        }
        let (_, attLayers) = try checkManifestBlobs(attDesc, role: "\(label) attestation")
        var statements: [String: JSON] = [:]
        for l in attLayers where l.mediaType == OCIMediaType.dsseEnvelope {
            let declared = l.annotations[OCIMediaType.predicateType] ?? "?"
            let name = "attestation \(label) \(declared)"
            let env: DSSEEnvelope
            do { env = try DSSEEnvelope(json: try layout.readJSON(l), source: "envelope \(l.digest)") } catch { throw fail(name, "\(error)") }
            guard try env.verify(with: key) else { throw fail(name, "the DSSE signature does not verify with the key") }
            guard env.payloadType == DSSEEnvelope.inTotoPayloadType else { throw fail(name, "payloadType is \(env.payloadType), not \(DSSEEnvelope.inTotoPayloadType)") }
            let st: JSON
            do { st = try JSON.parse(env.payload, source: "statement in \(l.digest)") } catch { throw fail(name, "\(error)") }
            guard st["_type"]?.string == InToto.statementType else { throw fail(name, "payload is not an in-toto Statement v1") }
            guard let pt = st["predicateType"]?.string, pt == declared else {
                throw fail(name, "statement predicateType \(st["predicateType"]?.string ?? "none") differs from the layer annotation \(declared)")
            }
            let subjects = (st["subject"]?.array ?? []).compactMap { $0["digest"]?["sha256"]?.string }
            guard subjects.contains(d.hex) else {
                throw fail(name, "subject is \(subjects.map { "sha256:" + $0 }.joined(separator: ", ")), not this image's \(d.digest)")
            }
            statements[pt] = st
            pass(name, "DSSE signature verifies; subject is \(Verifier.short(d.digest))…")
        }
        for p in requiredPredicates where statements[p] == nil {
            throw fail("attestations \(label)", "no \(p) attestation under \(attTag)")
        }

        // SBOM vs installed database
        let contents: ImageContents
        do { contents = try ImageContents.read(layout: layout, manifest: d, verifyBlobs: false) } catch { throw fail("sbom \(label)", "\(error)") }
        let installed: [APKIndexRecord]
        do {
            guard let i = try contents.installedPackages() else { throw AttestError("the image has no /\(ImageContents.installedDB)") }
            installed = i
        } catch { throw fail("sbom \(label)", "\(error)") }
        if let spdx = statements[InToto.spdxPredicate]?["predicate"] {
            let listed = Set(ImageSBOM.apkPackages(inSPDX: spdx).map { "\($0.name) \($0.version)" })
            let have = Set(installed.map { "\($0.name) \($0.version)" })
            guard listed == have else {
                let missing = have.subtracting(listed).sorted(), extra = listed.subtracting(have).sorted()
                throw fail("sbom \(label)", "SBOM packages differ from /\(ImageContents.installedDB): "
                    + (missing.isEmpty ? "" : "installed but not in the SBOM: \(missing.joined(separator: ", ")); ")
                    + (extra.isEmpty ? "" : "in the SBOM but not installed: \(extra.joined(separator: ", "))"))
            }
            pass("sbom \(label)", "SPDX lists the \(have.count) installed packages exactly")
        }

        if requireFIPS {
            try checkFIPS(contents: contents, installed: installed, tag: tag, label: label)
            try checkBoundary(statements[InToto.fipsBoundaryPredicate], digest: d.digest, label: label)
        }
        let variant = Attestor.detectVariant(tag: tag, contents: contents, packages: installed)
        var fipsLabel = "-"
        if variant == "fips" {
            let id = ImageFIPSModule.fromAnnotations(contents.annotationsAndLabels, installed: installed) ?? ImageFIPSModule.fromInstalled(installed)
            if let id { fipsLabel = id.label == .validated ? "validated (CMVP #\(id.certificate ?? "?"))" : id.label.rawValue }
        }
        let boundary = statements[InToto.fipsBoundaryPredicate]?["predicate"]
        let verdict = boundary.flatMap { p in p["manifestDigest"]?.string == d.digest ? p["verdict"]?.string : "other digest" } ?? "-"
        imageVerified(ImageSummary(image: tag ?? d.digest, variant: variant, digest: d.digest, size: imageSize,
                                   packages: installed.count, fipsLabel: fipsLabel, boundary: verdict, verified: true))
    }

    /// `--require-fips`: a verified boundary attestation (`kiln audit`'s result, attached by `kiln sign`)
    /// for exactly this manifest, with verdict `pass`.
    private func checkBoundary(_ statement: JSON?, digest: String, label: String) throws {
        let name = "fips-boundary \(label)"
        guard let st = statement, let p = st["predicate"] else {
            throw fail(name, "no FIPS boundary attestation (\(InToto.fipsBoundaryPredicate)) for \(Verifier.short(digest))…: sign the image with `kiln sign` (it runs `kiln audit`)")
        }
        guard p["manifestDigest"]?.string == digest else {
            throw fail(name, "the boundary attestation audited \(p["manifestDigest"]?.string ?? "no manifest"), not this image's \(digest)")
        }
        guard p["verdict"]?.string == "pass" else {
            let ids = (p["findings"]?.array ?? []).compactMap { f in f["id"]?.string.map { "\($0) /\(f["path"]?.string ?? "")" } }
            throw fail(name, "the boundary audit failed (verdict \(p["verdict"]?.string ?? "none")): \(ids.prefix(8).joined(separator: ", "))\(ids.count > 8 ? ", …" : "") — run `kiln audit` for evidence and advice")
        }
        let module = p["module"].flatMap { m in m["name"]?.string.map { "\($0) \(m["version"]?.string ?? "") \(m["label"]?.string ?? "")" } } ?? "no module"
        let allowed = p["allowances"]?.array?.count ?? 0
        pass(name, "boundary audit passed: \(module)\(allowed > 0 ? ", \(allowed) allowed finding(s)" : "")")
    }

    private func checkFIPS(contents: ImageContents, installed: [APKIndexRecord], tag: String?, label: String) throws {
        let name = "fips \(label)"
        let variant = Attestor.detectVariant(tag: tag, contents: contents, packages: installed)
        guard variant == "fips" else { throw fail(name, "the image is the standard variant, not fips (no -fips tag, variant annotation or provider package)") }
        guard let provider = installed.first(where: { $0.name.hasPrefix(FIPSPackageName.provider) }) else {
            throw fail(name, "no \(FIPSPackageName.provider) package in /\(ImageContents.installedDB)")
        }
        guard let config = installed.first(where: { $0.name.hasPrefix(FIPSPackageName.config) }) else {
            throw fail(name, "no \(FIPSPackageName.config) package in /\(ImageContents.installedDB)")
        }
        let files = contents.files
        guard let so = files.keys.sorted().first(where: { $0.hasSuffix("/ossl-modules/fips.so") }) else {
            throw fail(name, "the provider module (…/ossl-modules/fips.so) is not in the image")
        }
        if case .file = files[so]!.kind, files[so]!.data.isEmpty { throw fail(name, "/\(so) is empty") }
        guard let mod = files.keys.sorted().first(where: { $0.hasSuffix("fipsmodule.cnf") }), !(files[mod]?.data.isEmpty ?? true) else {
            throw fail(name, "no fipsmodule.cnf (made by `openssl fipsinstall`) in the image")
        }
        let cnfs = files.filter { $0.key.hasSuffix("openssl.cnf") && $0.value.kind == .file }
        let enforcing = cnfs.keys.sorted().first { p in
            let text = String(decoding: cnfs[p]!.data, as: UTF8.self)
            let compact = text.replacingOccurrences(of: " ", with: "").replacingOccurrences(of: "\t", with: "")
            return compact.contains("default_properties=fips=yes") && text.contains("fipsmodule.cnf")
        }
        guard let cnf = enforcing else {
            throw fail(name, "no openssl.cnf that includes fipsmodule.cnf and sets default_properties = fips=yes")
        }
        pass(name, "fips variant: \(provider.name) \(provider.version), \(config.name) \(config.version), /\(so), /\(mod), /\(cnf)")
    }
}
