import Foundation
import KilnAttest
import KilnCore
import KilnCrypto
import KilnFIPS
import KilnOCI

/// The audit result as a DSSE-signed in-toto attestation (predicate type
/// `https://kiln.dev/attestations/fips-boundary/v1`, the predicate is `AuditReport.json`: verdict,
/// module identity and label, every check, finding and allowance, kiln version), stored with the
/// image's other attestations under `sha256-<hex>.att`. A failing audit is attested as failing —
/// `kiln verify --require-fips` then refuses the image.
public enum BoundaryAttestation {
    /// Audits manifest `manifestDigest` of the layout at `layoutPath` and attaches the signed result.
    /// `name` is the statement's subject name (the image name); `registryPath` the FIPS module registry
    /// file (absolute; nil or missing: every module `fips-capable`).
    @discardableResult
    public static func attach(layout layoutPath: String, manifestDigest: String, name: String, key: PrivateKey,
                              policy: AuditPolicy = AuditPolicy(), registryPath: String?) throws -> AuditReport {
        let layout = try OCILayout(path: layoutPath)
        let d = try layout.resolve(manifestDigest)
        let registry = try BoundaryAudit.registry(at: registryPath)
        let report = try BoundaryAuditor(registry: registry, policy: policy)
            .audit(layout: layout, manifest: d, name: d.refName ?? name)
        let statement = InToto.statement(subjectName: name, digest: d.digest, predicateType: InToto.fipsBoundaryPredicate, predicate: report.json)
        try Attestor.attest(layout: layout, manifestDigest: d.digest, statements: [(InToto.fipsBoundaryPredicate, statement)], key: key)
        return report
    }
}
