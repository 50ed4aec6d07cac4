import ArgumentParser
import Foundation
import KilnAttest
import KilnAudit
import KilnCore
import KilnOCI
import KilnCrypto
import KilnFIPS

struct SignCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract: "Sign images in an OCI layout (cosign simple signing, tag sha256-<hex>.sig) and attach SBOM, SLSA provenance and the FIPS boundary audit (sha256-<hex>.att).",
        discussion: """
        LAYOUT[:TAG] names one tagged image, or with no TAG every image in the layout. The key is an ECDSA P-256 \
        PKCS#8 key from `kiln keygen --type ecdsa` ($KILN_KEY_PASSWORD when encrypted); cosign's own key format is \
        refused (scrypt + secretbox are not FIPS-approved). The SBOM is made from the image's installed apk \
        database and the packages' own SBOMs; `created` is $SOURCE_DATE_EPOCH (else the image's created time).
        """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "OCI layout directory, optionally with :TAG.")
    var reference: String

    @Option(name: .long, help: "Signing key (PKCS#8 PEM, ECDSA P-256).")
    var key: String

    @Option(name: .long, help: "SBOM formats to attach and write: spdx, cyclonedx or both.")
    var sbomFormat: String = "both"

    @Option(name: .long, help: "Write the SBOMs and provenance here as files (default: LAYOUT-sbom beside the layout).")
    var sbomDir: String?

    @Flag(name: .long, help: "Only sign; attach no SBOM or provenance.")
    var noAttest = false

    @Option(name: .long, help: "The image config the image was built from (named and hashed in the provenance).")
    var config: String?

    @Option(name: .long, help: "The lock file the image was built from (`kiln lock`): its .apk digests go into the SBOM and provenance.")
    var lock: String?

    func run() throws {
        guard let format = SBOMFormat(rawValue: sbomFormat) else {
            throw KilnMessage("--sbom-format \(sbomFormat): expected spdx, cyclonedx or both")
        }
        let ref = try LayoutReference.parse(reference)
        let layout = try OCILayout(path: ref.layout)
        let privateKey = try SigningKeys.loadPrivate(path: key)
        let keyID = try SigningKeys.keyID(privateKey.publicKey)
        var options = AttachOptions()
        options.sbomFormat = format
        options.attest = !noAttest
        if let config {
            guard let data = FileManager.default.contents(atPath: config) else { throw KilnMessage("\(config): cannot read the image config") }
            options.configName = config
            options.configSHA256 = try Digest.sha256Hex(data)
        }
        let dir = sbomDir ?? (URL(fileURLWithPath: ref.layout).standardizedFileURL.path + "-sbom")
        options.sbomDirectory = noAttest ? nil : dir
        let locked = try lock.map { try Attestor.loadLock(path: $0) }
        if options.configName == nil { options.configName = locked?.config }
        for t in try Attestor.targets(layout: layout, tag: ref.tag) {
            var o = options
            o.tag = t.tag
            if let locked {
                let m = try layout.readJSON(t.descriptor)
                let variant = m["annotations"]?[OCIMediaType.kilnVariant]?.string ?? ((t.tag ?? "").hasSuffix("-fips") ? "fips" : "standard")
                o.lockedPackages = locked.variants[variant]
            }
            let r = try Attestor.attach(layout: ref.layout, manifestDigest: t.descriptor.digest, options: o, key: privateKey)
            var line = "signed \(t.tag ?? t.descriptor.digest) \(t.descriptor.digest) → \(r.signatureTag ?? "-")"
            if let a = r.attestationTag { line += ", \(a)" }
            if options.attest {
                let audit = try BoundaryAttestation.attach(layout: ref.layout, manifestDigest: t.descriptor.digest, name: t.tag ?? t.descriptor.digest, key: privateKey)
                line += " (fips boundary: \(audit.verdict))"
            }
            print(line)
            for f in r.writtenFiles { Progress.shared.log("wrote \(f)") }
        }
        Progress.shared.log("key id \(keyID)")
        if let m = try ActiveFIPSModule.current() { print("signed in FIPS mode by \(m)") }
    }
}
