import Foundation
import KilnOCI
import KilnAttest
import KilnCore
import KilnCrypto
import KilnTestSupport
import XCTest

/// Independent verifiers (pyspdxtools, cyclonedx-python-lib, securesystemslib, openssl, skopeo) check
/// what kiln writes, and the built `kiln sign` / `kiln verify` are exercised end to end.
final class ExternalVerifierTests: XCTestCase {
    /// One Python process checks everything (interpreter start-up and schema loading dominate otherwise).
    /// Job: {"spdx": [paths], "cdx": [paths], "dsse": [[envelope, pub.pem, keyid, expectVerified]]}.
    static let checkScript = """
        import json, sys
        from spdx_tools.spdx.parser.parse_anything import parse_file
        from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document
        from cyclonedx.schema import SchemaVersion
        from cyclonedx.validation.json import JsonStrictValidator
        from securesystemslib.dsse import Envelope
        from securesystemslib.signer import SSlibKey
        from securesystemslib.exceptions import UnverifiedSignatureError, VerificationError
        job = json.load(open(sys.argv[1])); bad = 0
        for p in job["spdx"]:
            msgs = validate_full_spdx_document(parse_file(p))
            for m in msgs: print("SPDX-INVALID", p, m.validation_message)
            print("SPDX", "ok" if not msgs else "invalid", p); bad += bool(msgs)
        for p in job["cdx"]:
            doc = json.load(open(p))
            err = JsonStrictValidator(SchemaVersion.from_version(doc["specVersion"])).validate_str(json.dumps(doc), all_errors=True)
            for e in (err or []): print("CDX-INVALID", p, getattr(e.data, "message", e.data))
            print("CDX", "ok" if not err else "invalid", doc["specVersion"], p); bad += bool(err)
        for envp, pubp, keyid, expect in job["dsse"]:
            env = Envelope.from_dict(json.load(open(envp))); pem = open(pubp).read()
            key = SSlibKey(keyid, "ecdsa", "ecdsa-sha2-nistp256", {"public": pem})
            try:
                env.verify([key], 1); ok = True    # sslib rule: signature keyid must equal key.keyid
            except (UnverifiedSignatureError, VerificationError):
                ok = False
            stmt = json.loads(env.payload)
            print("DSSE", "VERIFIED" if ok else "FAILED", stmt["predicateType"], stmt["subject"][0]["digest"]["sha256"], envp)
            bad += (ok != expect)
        sys.exit(1 if bad else 0)
        """

    var venvPython: String { TestSupport.packageRoot + "/.venv/bin/python" }

    func requireTool(_ path: String) throws {
        guard FileManager.default.isExecutableFile(atPath: path) else {
            XCTFail("\(path) is missing: run `make venv` / `make deps` (make test does both)")
            throw XCTSkip("missing \(path)")
        }
    }

    func which(_ name: String) -> String? { Subprocess.which(name) }

    func testThirdPartyVerifiersAcceptKilnOutput() throws {
        try requireTool(venvPython)
        try requireTool(TestSupport.packageRoot + "/.venv/bin/pyspdxtools")
        let dir = try TestSupport.temporaryDirectory(self)
        let layoutPath = dir + "/layout"
        let std = try Fixture.image(layoutPath: layoutPath, tag: "demo:1.0", packages: Fixture.standardPackages, fips: false)
        let fips = try Fixture.image(layoutPath: layoutPath, tag: "demo:1.0-fips", packages: Fixture.fipsPackages, fips: true)
        let key = try Fixture.keyPair(dir, name: "cosign")
        let keyID = try SigningKeys.keyID(key.key.publicKey)
        let other = try Fixture.keyPair(dir, name: "other")
        try AtomicFile.write(Self.checkScript, to: dir + "/check.py")
        let layout = try OCILayout(path: layoutPath)
        var spdxFiles: [String] = [], cdxFiles: [String] = [], dsse: [JSON] = []
        var expected: [String] = []
        for (d, tag) in [(std, "demo:1.0"), (fips, "demo:1.0-fips")] {
            var o = AttachOptions()
            o.tag = tag; o.sbomDirectory = dir + "/sbom"; o.sourceDateEpoch = Fixture.epoch
            let r = try Attestor.attach(layout: layoutPath, manifestDigest: d.digest, options: o, key: key.key)
            XCTAssertEqual(r.writtenFiles.count, 3)
            let base = dir + "/sbom/" + tag.replacingOccurrences(of: ":", with: "_")
            spdxFiles.append(base + ".spdx.json")
            cdxFiles.append(base + ".cdx.json")

            // DSSE envelopes: each verified by securesystemslib with the public key and kiln's keyid; a wrong key fails.
            let att = try layout.readJSON(try layout.resolve(CosignTag.attestation(for: d.digest)))
            var predicates: [String] = []
            for (i, l) in att["layers"]!.array!.enumerated() {
                let ld = try OCIDescriptor(json: l, source: "t")
                XCTAssertEqual(ld.mediaType, OCIMediaType.dsseEnvelope)
                let envPath = dir + "/env-\(d.hex.prefix(8))-\(i).json"
                try AtomicFile.write(try layout.readBlob(ld), to: envPath)
                let pt = ld.annotations["predicateType"]!
                predicates.append(pt)
                dsse.append([.string(envPath), .string(key.pubPath), .string(keyID), true])
                expected.append("DSSE VERIFIED \(pt) \(d.hex) \(envPath)")
                if i == 0 {
                    dsse.append([.string(envPath), .string(other.pubPath), .string(keyID), false])
                    expected.append("DSSE FAILED \(pt) \(d.hex) \(envPath)")
                }
                // The SPDX document inside the attestation is checked as well.
                if pt == InToto.spdxPredicate {
                    let env = try DSSEEnvelope(json: try layout.readJSON(ld), source: "t")
                    let inner = dir + "/inner-\(d.hex.prefix(8)).spdx.json"
                    try AtomicFile.write(try JSON.parse(env.payload)["predicate"]!.pretty(), to: inner)
                    spdxFiles.append(inner)
                }
            }
            XCTAssertEqual(Set(predicates), Set([InToto.spdxPredicate, InToto.cyclonedxPredicate, InToto.slsaProvenance]))

            // Simple signing: `openssl dgst -sha256 -verify` over the payload blob, and the payload names the digest.
            let sig = try layout.readJSON(try layout.resolve(CosignTag.signature(for: d.digest)))
            let pd = try OCIDescriptor(json: sig["layers"]!.array![0], source: "t")
            XCTAssertEqual(pd.mediaType, OCIMediaType.simpleSigning)
            try AtomicFile.write(try layout.readBlob(pd), to: dir + "/payload.json")
            try AtomicFile.write(Base64.decode(pd.annotations[OCIMediaType.cosignSignature]!)!, to: dir + "/sig.der")
            let ossl = try TestSupport.run("/usr/bin/openssl", ["dgst", "-sha256", "-verify", key.pubPath, "-signature", dir + "/sig.der", dir + "/payload.json"])
            XCTAssertEqual(ossl.status, 0, ossl.err)
            XCTAssertTrue(ossl.out.contains("Verified OK"))
            let bad2 = try TestSupport.run("/usr/bin/openssl", ["dgst", "-sha256", "-verify", other.pubPath, "-signature", dir + "/sig.der", dir + "/payload.json"])
            XCTAssertNotEqual(bad2.status, 0)
            XCTAssertEqual(try SimpleSigning.manifestDigest(in: try layout.readBlob(pd), source: "t"), d.digest)
        }
        let job: JSON = ["spdx": .array(spdxFiles.map(JSON.string)), "cdx": .array(cdxFiles.map(JSON.string)), "dsse": .array(dsse)]
        try AtomicFile.write(job.compact(), to: dir + "/job.json")
        let check = try TestSupport.run(venvPython, [dir + "/check.py", dir + "/job.json"])
        XCTAssertEqual(check.status, 0, "python verifiers: \(check.out) \(check.err)")
        for f in spdxFiles { XCTAssertTrue(check.out.contains("SPDX ok \(f)"), check.out) }
        for f in cdxFiles { XCTAssertTrue(check.out.contains("CDX ok 1.5 \(f)"), check.out) }
        for e in expected { XCTAssertTrue(check.out.contains(e), "missing \(e) in \(check.out)") }
        // And the pyspdxtools command line accepts the image SBOM (silent, exit 0).
        let cli = try TestSupport.run(TestSupport.packageRoot + "/.venv/bin/pyspdxtools", ["-i", spdxFiles[0]])
        XCTAssertEqual(cli.status, 0, "pyspdxtools: \(cli.out) \(cli.err)")

        // skopeo reads the layout: the images by tag, and the signature/attestation manifests by their tags.
        try requireTool(which("skopeo") ?? "/usr/bin/skopeo")
        for tag in ["demo:1.0", "demo:1.0-fips", CosignTag.signature(for: std.digest), CosignTag.attestation(for: fips.digest)] {
            let raw = try TestSupport.run("skopeo", ["inspect", "--raw", "oci:\(layoutPath):\(tag)"])
            XCTAssertEqual(raw.status, 0, "skopeo inspect --raw \(tag): \(raw.err)")
            let inspect = try TestSupport.run("skopeo", ["inspect", "oci:\(layoutPath):\(tag)"])
            XCTAssertEqual(inspect.status, 0, "skopeo inspect \(tag): \(inspect.err)")
        }
        let raw = try TestSupport.run("skopeo", ["inspect", "--raw", "oci:\(layoutPath):\(CosignTag.signature(for: std.digest))"])
        XCTAssertEqual("sha256:" + (try Digest.sha256Hex(Data(raw.out.utf8))), try layout.resolve(CosignTag.signature(for: std.digest)).digest)
        // skopeo copy re-hashes every blob of the signature artifact.
        let copy = try TestSupport.run("skopeo", ["copy", "oci:\(layoutPath):\(CosignTag.signature(for: std.digest))", "dir:\(dir)/copied"])
        XCTAssertEqual(copy.status, 0, copy.err)
    }

    // MARK: CLI

    func testKilnSignAndVerifyCLI() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let layoutPath = dir + "/layout"
        let std = try Fixture.image(layoutPath: layoutPath, tag: "demo:1.0", packages: Fixture.standardPackages, fips: false)
        try Fixture.image(layoutPath: layoutPath, tag: "demo:1.0-fips", packages: Fixture.fipsPackages, fips: true)
        let key = try Fixture.keyPair(dir, name: "cosign")
        var env = ProcessInfo.processInfo.environment
        env["SOURCE_DATE_EPOCH"] = String(Fixture.epoch)
        env["KILN_FIPS"] = nil

        let unsigned = try TestSupport.kiln(["verify", layoutPath + ":demo:1.0", "--key", key.pubPath], environment: env)
        XCTAssertNotEqual(unsigned.status, 0)
        XCTAssertTrue(unsigned.err.contains("no signature"), unsigned.err)

        let sign = try TestSupport.kiln(["sign", layoutPath, "--key", key.keyPath, "--sbom-dir", dir + "/sbom"], environment: env)
        XCTAssertEqual(sign.status, 0, sign.err)
        XCTAssertTrue(sign.out.contains("signed demo:1.0 \(std.digest)"), sign.out)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/sbom/demo_1.0-fips.spdx.json"))

        let ok = try TestSupport.kiln(["verify", layoutPath, "--key", key.pubPath], environment: env)
        XCTAssertEqual(ok.status, 0, ok.out + ok.err)
        let lines = ok.out.split(separator: "\n")
        let verifiedLine = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("verified ") }, ok.out)
        XCTAssertTrue(lines[..<verifiedLine].allSatisfy { $0.hasPrefix("ok    ") }, ok.out)
        // The closing table: one row per image with variant, digest, size, packages, FIPS label, verified.
        XCTAssertTrue(lines[verifiedLine + 1].hasPrefix("IMAGE"), ok.out)
        let fipsRow = try XCTUnwrap(lines.first { $0.hasPrefix("demo:1.0-fips ") }, ok.out).split(separator: " ", omittingEmptySubsequences: true)
        XCTAssertEqual(fipsRow[1], "fips")
        XCTAssertTrue(fipsRow[2].hasPrefix("sha256:"))
        XCTAssertEqual(fipsRow[5], "\(Fixture.fipsPackages.count)")
        XCTAssertEqual(fipsRow[6], "fips-capable")
        XCTAssertEqual(fipsRow.last, "yes")
        XCTAssertTrue(lines.contains { $0.hasPrefix("ok    signature demo:1.0-fips:") })

        let fipsOK = try TestSupport.kiln(["verify", layoutPath + ":demo:1.0-fips", "--key", key.pubPath, "--require-fips"], environment: env)
        // The fixture's provider is a stand-in: the variant checks pass, the boundary audit `kiln sign`
        // attached does not (module-mac), so --require-fips refuses it.
        XCTAssertEqual(fipsOK.status, 1, fipsOK.out + fipsOK.err)
        XCTAssertTrue(fipsOK.out.contains("ok    fips demo:1.0-fips: fips variant: openssl-fips-provider 3.0.22-r0"), fipsOK.out)
        XCTAssertTrue(fipsOK.out.contains("FAIL  fips-boundary demo:1.0-fips: the boundary audit failed"), fipsOK.out)
        let fipsBad = try TestSupport.kiln(["verify", layoutPath + ":demo:1.0", "--key", key.pubPath, "--require-fips"], environment: env)
        XCTAssertEqual(fipsBad.status, 1)
        XCTAssertTrue(fipsBad.out.contains("FAIL  fips demo:1.0:"), fipsBad.out)

        let js = try TestSupport.kiln(["verify", layoutPath + ":demo:1.0", "--key", key.pubPath, "--json"], environment: env)
        XCTAssertEqual(js.status, 0, js.err)
        let report = try JSON.parse(Data(js.out.utf8))
        XCTAssertEqual(report["verified"], .bool(true))
        XCTAssertEqual(report["keyid"]?.string, try SigningKeys.keyID(key.key.publicKey))
        XCTAssertGreaterThan(report["checks"]?.array?.count ?? 0, 8)
        let img = try XCTUnwrap(report["images"]?.array?.first)
        XCTAssertEqual(img["digest"]?.string, std.digest)
        XCTAssertEqual(img["variant"]?.string, "standard")
        XCTAssertEqual(img["packages"]?.int, Int64(Fixture.standardPackages.count))
        XCTAssertEqual(img["fips"]?.string, "-")
        XCTAssertGreaterThan(img["size"]?.int ?? 0, 1000)

        // A flipped layer byte: exit 1, the failing line names the blob, nothing after it.
        let layout = try OCILayout(path: layoutPath)
        let layer = try layout.readJSON(std)["layers"]!.array![0]["digest"]!.string!
        try Fixture.flipByte(layout, digest: layer)
        let bad = try TestSupport.kiln(["verify", layoutPath + ":demo:1.0", "--key", key.pubPath], environment: env)
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.out.split(separator: "\n").last!.hasPrefix("FAIL  blob demo:1.0 layer 0: \(layer)"), bad.out)
        XCTAssertTrue(bad.err.contains("kiln: error: verification failed: blob demo:1.0 layer 0"), bad.err)
        let badJSON = try TestSupport.kiln(["verify", layoutPath + ":demo:1.0", "--key", key.pubPath, "--json"], environment: env)
        XCTAssertEqual(badJSON.status, 1)
        XCTAssertEqual(try JSON.parse(Data(badJSON.out.utf8))["verified"], .bool(false))

        // A cosign-format key is refused with the reason.
        try AtomicFile.write("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\neyJ9\n-----END ENCRYPTED COSIGN PRIVATE KEY-----\n", to: dir + "/c.key")
        let cos = try TestSupport.kiln(["sign", layoutPath + ":demo:1.0", "--key", dir + "/c.key"], environment: env)
        XCTAssertNotEqual(cos.status, 0)
        XCTAssertTrue(cos.err.contains("cosign private key"), cos.err)
    }

    /// FIPS mode: only when KILN_TEST_FIPS_CONF names an OpenSSL config that loads a FIPS provider.
    func testSignAndVerifyInFIPSMode() throws {
        guard let conf = ProcessInfo.processInfo.environment["KILN_TEST_FIPS_CONF"], !conf.isEmpty else {
            throw XCTSkip("set KILN_TEST_FIPS_CONF to an openssl.cnf that loads the FIPS provider")
        }
        let dir = try TestSupport.temporaryDirectory(self)
        let layoutPath = dir + "/layout"
        try Fixture.image(layoutPath: layoutPath, tag: "demo:1.0-fips", packages: Fixture.fipsPackages, fips: true)
        var env = ProcessInfo.processInfo.environment
        env["SOURCE_DATE_EPOCH"] = String(Fixture.epoch)
        let fipsArgs = ["--fips", "--fips-config", conf]
        let ver = try TestSupport.kiln(["version"] + fipsArgs, environment: env)
        XCTAssertTrue(ver.out.contains("fips mode: on"), ver.out + ver.err)
        let kg = try TestSupport.kiln(["keygen", "--type", "ecdsa", "--out", dir + "/fk"] + fipsArgs, environment: env)
        XCTAssertEqual(kg.status, 0, kg.err)
        let sign = try TestSupport.kiln(["sign", layoutPath, "--key", dir + "/fk.key"] + fipsArgs, environment: env)
        XCTAssertEqual(sign.status, 0, sign.err)
        let v = try TestSupport.kiln(["verify", layoutPath, "--key", dir + "/fk.pub", "--require-fips"] + fipsArgs, environment: env)
        // Every signature and attestation verifies in FIPS mode; the stand-in provider's boundary audit fails.
        XCTAssertEqual(v.status, 1, v.out + v.err)
        XCTAssertTrue(v.out.contains("ok    attestation demo:1.0-fips \(InToto.fipsBoundaryPredicate): DSSE signature verifies"), v.out)
        XCTAssertTrue(v.out.contains("FAIL  fips-boundary demo:1.0-fips: the boundary audit failed"), v.out)
        // A non-approved signature algorithm (Ed25519, unapproved in the 3.0/3.1 providers) is refused.
        let ed = try TestSupport.run("openssl", ["genpkey", "-algorithm", "ed25519", "-out", dir + "/ed.key"])
        XCTAssertEqual(ed.status, 0, ed.err)
        let edSign = try TestSupport.kiln(["sign", layoutPath, "--key", dir + "/ed.key"] + fipsArgs, environment: env)
        XCTAssertNotEqual(edSign.status, 0)
        XCTAssertTrue(edSign.err.contains("FIPS"), edSign.err)
        // Tampering is still caught in FIPS mode.
        let layout = try OCILayout(path: layoutPath)
        try Fixture.flipByte(layout, digest: try layout.resolve("demo:1.0-fips").digest, at: 0.4)
        let bad = try TestSupport.kiln(["verify", layoutPath, "--key", dir + "/fk.pub"] + fipsArgs, environment: env)
        XCTAssertEqual(bad.status, 1, bad.out)
    }
}
