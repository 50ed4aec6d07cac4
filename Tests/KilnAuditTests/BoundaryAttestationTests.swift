import Foundation
import KilnAttest
import KilnAudit
import KilnCore
import KilnCrypto
import KilnOCI
import KilnTestSupport
import XCTest

/// `kiln sign` attaches the audit as a DSSE in-toto attestation; `kiln verify --require-fips`
/// accepts only a passing one for exactly the manifest: missing, failing or other-digest are refused.
final class BoundaryAttestationTests: XCTestCase {
    func testSignAttachesTheAuditAndVerifyRequiresAPassingOneForTheDigest() throws {
        let dir = try TestSupport.temporaryDirectory(self, prefix: "kiln-audit-att")
        try XCTSkipUnless(FileManager.default.fileExists(atPath: AuditFixture.fipsDir + "/fips.so"), "needs out/test/fips")
        let key = try PrivateKey.generate(.ecdsaP256)
        try key.save(to: dir + "/k.key")
        try AtomicFile.write(try key.publicKey.pem(), to: dir + "/k.pub")
        let cwd = TestSupport.packageRoot
        var env = ProcessInfo.processInfo.environment
        env["KILN_FIPS"] = nil

        // Clean, allowed-finding and failing images in three layouts.
        let clean = try AuditFixture.clean(dir: dir).write(dir: dir, tag: "app-fips")
        var allowed = try AuditFixture.clean(dir: dir)
        allowed.files.append(.init(path: "usr/bin/aes", data: try Programs.shared.staticAES(dir), mode: 0o755, owner: "app"))
        allowed.annotations["dev.kiln.fips.allow"] = #"[{"finding":"aes-sbox","path":"usr/bin/aes","reason":"lookup table for a checksum, not crypto"}]"#
        let allowedRef = try allowed.write(dir: dir, tag: "allowed-fips")
        var bad = allowed
        bad.annotations = [:]
        let badRef = try bad.write(dir: dir, tag: "bad-fips")

        for ref in [clean, allowedRef, badRef] {
            let s = try TestSupport.kiln(["sign", ref, "--key", dir + "/k.key"], environment: env, cwd: cwd)
            XCTAssertEqual(s.status, 0, s.out + s.err)
            XCTAssertTrue(s.out.contains("(fips boundary: \(ref == badRef ? "fail" : "pass"))"), s.out)
        }
        func verify(_ ref: String) throws -> (status: Int32, out: String, err: String) {
            try TestSupport.kiln(["verify", ref, "--key", dir + "/k.pub", "--require-fips"], environment: env, cwd: cwd)
        }
        var v = try verify(clean)
        XCTAssertEqual(v.status, 0, v.out + v.err)
        XCTAssertTrue(v.out.contains("ok    fips-boundary app-fips: boundary audit passed: OpenSSL FIPS Provider 3.0.22 fips-capable"), v.out)
        XCTAssertTrue(v.out.contains("ok    attestation app-fips \(InToto.fipsBoundaryPredicate): DSSE signature verifies"), v.out)

        // The allowance travels into the attestation with its reason.
        v = try verify(allowedRef)
        XCTAssertEqual(v.status, 0, v.out + v.err)
        XCTAssertTrue(v.out.contains("1 allowed finding(s)"), v.out)
        let predicate = try boundaryPredicate(allowedRef)
        XCTAssertEqual(predicate["verdict"]?.string, "pass")
        XCTAssertEqual(predicate["allowances"]?.array?.first?["reason"]?.string?.hasPrefix("lookup table for a checksum, not crypto"), true)
        XCTAssertEqual(predicate["kiln"]?["version"]?.string, KilnVersion.current)

        // Failing audit → refused, naming the finding.
        v = try verify(badRef)
        XCTAssertEqual(v.status, 1, v.out)
        XCTAssertTrue(v.out.contains("FAIL  fips-boundary bad-fips: the boundary audit failed (verdict fail): aes-sbox /usr/bin/aes"), v.out)

        // Missing: signed and attested without the boundary attestation (the library path kiln sign wraps).
        var missing = try AuditFixture.clean(dir: dir)
        missing.annotations["org.opencontainers.image.title"] = "another image"   // another manifest digest
        let missingRef = try missing.write(dir: dir, tag: "missing-fips")
        let (mLayout, mTag) = split(missingRef)
        let mDesc = try OCILayout(path: mLayout).resolve(mTag)
        _ = try Attestor.attach(layout: mLayout, manifestDigest: mDesc.digest, key: key)
        v = try verify(missingRef)
        XCTAssertEqual(v.status, 1, v.out)
        XCTAssertTrue(v.out.contains("FAIL  fips-boundary missing-fips: no FIPS boundary attestation"), v.out)

        // Another digest: the clean image's signed boundary statement placed under the missing image's .att.
        let (cLayout, cTag) = split(clean)
        let cDesc = try OCILayout(path: cLayout).resolve(cTag)
        let st = try boundaryStatement(clean)
        try Attestor.attest(layout: OCILayout(path: mLayout), manifestDigest: mDesc.digest,
                            statements: [(InToto.fipsBoundaryPredicate, st)], key: key)
        v = try verify(missingRef)
        XCTAssertEqual(v.status, 1, v.out)
        XCTAssertTrue(v.out.contains("not this image's \(mDesc.digest)"), v.out)
        // …and a statement re-subjected to this image but carrying the other image's audit.
        let resubjected = st.setting("subject", [["name": "missing-fips", "digest": ["sha256": .string(mDesc.hex)]]])
        try Attestor.attest(layout: OCILayout(path: mLayout), manifestDigest: mDesc.digest,
                            statements: [(InToto.fipsBoundaryPredicate, resubjected)], key: key)
        v = try verify(missingRef)
        XCTAssertEqual(v.status, 1, v.out)
        XCTAssertTrue(v.out.contains("FAIL  fips-boundary missing-fips: the boundary attestation audited \(cDesc.digest), not this image's \(mDesc.digest)"), v.out)
    }

    func split(_ ref: String) -> (String, String) {
        let r = ref.range(of: ":", options: .backwards)!
        return (String(ref[..<r.lowerBound]), String(ref[r.upperBound...]))
    }

    func boundaryStatement(_ ref: String) throws -> JSON {
        let (l, t) = split(ref)
        let layout = try OCILayout(path: l)
        let d = try layout.resolve(t)
        let att = try layout.readJSON(try layout.resolve(CosignTag.attestation(for: d.digest)))
        for lj in att["layers"]?.array ?? [] {
            let ld = try OCIDescriptor(json: lj, source: "att")
            guard ld.annotations[OCIMediaType.predicateType] == InToto.fipsBoundaryPredicate else { continue }
            let env = try DSSEEnvelope(json: try layout.readJSON(ld), source: "env")
            return try JSON.parse(env.payload, source: "payload")
        }
        throw KilnMessage("no boundary attestation in \(ref)")
    }

    func boundaryPredicate(_ ref: String) throws -> JSON { try XCTUnwrap(try boundaryStatement(ref)["predicate"]) }
}
