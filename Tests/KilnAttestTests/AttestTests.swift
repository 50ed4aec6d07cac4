import Foundation
import KilnOCI
import KilnAPK
import KilnAttest
import KilnCore
import KilnCrypto
import KilnTestSupport
import XCTest

final class JSONAndFormatTests: XCTestCase {
    func testJSONRoundTripKeepsOrderAndEscapes() throws {
        let text = #"{"b":1,"a":[true,false,null,-2.5,"x\"y\\z\n\u00e9\ud83d\ude00/"],"c":{}}"#
        let j = try JSON.parse(Data(text.utf8))
        XCTAssertEqual(j.object?.map(\.0), ["b", "a", "c"])
        XCTAssertEqual(String(decoding: j.compact(), as: UTF8.self), #"{"b":1,"a":[true,false,null,-2.5,"x\"y\\z\né😀/"],"c":{}}"#)
        XCTAssertEqual(try JSON.parse(j.pretty()), j)
        XCTAssertThrowsError(try JSON.parse(Data(#"{"a":1,}"#.utf8)))
        XCTAssertThrowsError(try JSON.parse(Data(#"{"a":1} x"#.utf8)))
    }

    func testDSSEPAEMatchesSpecVector() {
        let pae = DSSEEnvelope.pae(payloadType: "http://example.com/HelloWorld", payload: Data("hello world".utf8))
        XCTAssertEqual(String(decoding: pae, as: UTF8.self), "DSSEv1 29 http://example.com/HelloWorld 11 hello world")
    }

    func testSimpleSigningPayloadIsCosignShaped() throws {
        let p = SimpleSigning.payload(dockerReference: "demo", manifestDigest: "sha256:" + String(repeating: "0", count: 64))
        XCTAssertEqual(String(decoding: p, as: UTF8.self),
                       #"{"critical":{"identity":{"docker-reference":"demo"},"image":{"docker-manifest-digest":"sha256:"#
                       + String(repeating: "0", count: 64) + #""},"type":"cosign container image signature"},"optional":null}"#)
        XCTAssertEqual(try SimpleSigning.manifestDigest(in: p, source: "t"), "sha256:" + String(repeating: "0", count: 64))
    }

    func testInstalledDatabaseParsing() throws {
        let pkgs = try APKIndex.parseInstalledDatabase(Fixture.installedDB(Fixture.standardPackages), file: "lib/apk/db/installed")
        XCTAssertEqual(pkgs.map(\.name), ["glibc", "libcrypto3", "openssl", "hello"])
        XCTAssertEqual(pkgs[2].depends, ["so:libcrypto.so.3", "glibc>=2.36"])
        XCTAssertEqual(pkgs[0].provides, ["so:libc.so.6=6"])
        XCTAssertThrowsError(try APKIndex.parseInstalledDatabase("P:x\n\n", file: "db")) { e in
            XCTAssertTrue("\(e)".hasPrefix("db:") && "\(e)".contains("P: or V:"), "\(e)")
        }
    }

    func testCosignPrivateKeyIsRefusedWithReason() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let p = dir + "/cosign.key"
        try AtomicFile.write("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\neyJrZGYiOnt9fQ==\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n", to: p)
        XCTAssertThrowsError(try SigningKeys.loadPrivate(path: p)) { e in
            XCTAssertTrue("\(e)".contains("not a FIPS-approved"), "\(e)")
        }
        let rsa = try PrivateKey.generate(.rsa(bits: 2048))
        try rsa.save(to: dir + "/rsa.key")
        XCTAssertThrowsError(try SigningKeys.loadPrivate(path: dir + "/rsa.key")) { e in
            XCTAssertTrue("\(e)".contains("ECDSA P-256"), "\(e)")
        }
    }
}

final class AttestTests: XCTestCase {
    var dir = ""
    var layoutPath = ""
    var key: (key: PrivateKey, keyPath: String, pubPath: String)!
    var std: OCIDescriptor!
    var fips: OCIDescriptor!

    override func setUpWithError() throws {
        dir = try TestSupport.temporaryDirectory(self)
        layoutPath = dir + "/layout"
        std = try Fixture.image(layoutPath: layoutPath, tag: "demo:1.0", packages: Fixture.standardPackages, fips: false)
        fips = try Fixture.image(layoutPath: layoutPath, tag: "demo:1.0-fips", packages: Fixture.fipsPackages, fips: true)
        key = try Fixture.keyPair(dir, name: "cosign")
    }

    func attachAll(sbomDir: String? = nil, startedOn: Int64? = nil) throws -> [AttachResult] {
        var out: [AttachResult] = []
        for (d, tag) in [(std!, "demo:1.0"), (fips!, "demo:1.0-fips")] {
            var o = AttachOptions()
            o.tag = tag
            o.sbomDirectory = sbomDir
            o.sourceDateEpoch = Fixture.epoch
            o.startedOn = startedOn
            o.finishedOn = startedOn.map { $0 + 5 }
            out.append(try Attestor.attach(layout: layoutPath, manifestDigest: d.digest, options: o, key: key.key))
        }
        return out
    }

    func verify(_ tag: String?, key pub: String? = nil, requireFIPS: Bool = false) throws -> [VerifyCheck] {
        try Verifier(layout: try OCILayout(path: layoutPath), tag: tag, key: try SigningKeys.loadPublic(path: pub ?? key.pubPath),
                     requireFIPS: requireFIPS).run()
    }

    /// Verifies and expects the first failure to be `check` (prefix) with `reason` in its detail.
    func expectFailure(_ tag: String?, check: String, reason: String, key pub: String? = nil, requireFIPS: Bool = false,
                       file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try verify(tag, key: pub, requireFIPS: requireFIPS)
            XCTFail("verify passed; expected \(check) to fail", file: file, line: line)
        } catch let f as VerificationFailure {
            XCTAssertTrue(f.check.check.hasPrefix(check), "failed check \(f.check.check), expected \(check): \(f.check.detail)", file: file, line: line)
            XCTAssertTrue(f.check.detail.contains(reason), "reason: \(f.check.detail); expected to contain \(reason)", file: file, line: line)
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
    }

    func testAttachThenVerifyPassesEveryCheck() throws {
        let results = try attachAll()
        XCTAssertEqual(results[0].signatureTag, CosignTag.signature(for: std.digest))
        let checks = try verify(nil)
        XCTAssertTrue(checks.allSatisfy(\.ok))
        let names = checks.map(\.check)
        for tag in ["demo:1.0", "demo:1.0-fips"] {
            XCTAssertTrue(names.contains("blob \(tag) manifest"))
            XCTAssertTrue(names.contains("blob \(tag) layer 0"))
            XCTAssertTrue(names.contains("signature \(tag)"))
            XCTAssertTrue(names.contains("attestation \(tag) \(InToto.spdxPredicate)"))
            XCTAssertTrue(names.contains("attestation \(tag) \(InToto.slsaProvenance)"))
            XCTAssertTrue(names.contains("sbom \(tag)"))
        }
        // index.json now also lists the signature and attestation tags, and `verify` skipped them as images.
        let tags = try OCILayout(path: layoutPath).manifests().compactMap(\.refName)
        XCTAssertEqual(Set(tags), Set(["demo:1.0", "demo:1.0-fips", CosignTag.signature(for: std.digest), CosignTag.attestation(for: std.digest),
                                       CosignTag.signature(for: fips.digest), CosignTag.attestation(for: fips.digest)]))
        // --require-fips: the fips variant's provider and config checks pass, but Attestor.attach alone
        // attaches no FIPS boundary attestation (KilnAudit does, through `kiln sign`), so it is refused;
        // the standard one fails on the variant. (KilnAuditTests prove the passing path.)
        expectFailure("demo:1.0-fips", check: "fips-boundary demo:1.0-fips", reason: "no FIPS boundary attestation", requireFIPS: true)
        expectFailure("demo:1.0", check: "fips demo:1.0", reason: "standard variant", requireFIPS: true)
    }

    func testSBOMContent() throws {
        let r = try attachAll()
        let spdx = try JSON.parse(r[1].spdx!)
        XCTAssertEqual(spdx["creationInfo"]?["created"]?.string, "2023-11-14T22:13:20Z")
        let ns = try XCTUnwrap(spdx["documentNamespace"]?.string)
        XCTAssertTrue(ns.hasPrefix("https://kiln.dev/spdxdocs/demo-"))
        XCTAssertNotEqual(ns, try JSON.parse(r[0].spdx!)["documentNamespace"]?.string, "namespace must differ per image")
        let pkgs = spdx["packages"]!.array!
        let image = pkgs[0]
        XCTAssertEqual(image["primaryPackagePurpose"]?.string, "CONTAINER")
        XCTAssertEqual(image["versionInfo"]?.string, fips.digest)
        XCTAssertTrue(image["externalRefs"]!.array![0]["referenceLocator"]!.string!.hasPrefix("pkg:oci/demo@\(fips.digest)?arch=amd64"))
        XCTAssertEqual(Set(ImageSBOM.apkPackages(inSPDX: spdx).map(\.name)), Set(Fixture.fipsPackages.map(\.name)))
        let rels = spdx["relationships"]!.array!.map { "\($0["spdxElementId"]!.string!) \($0["relationshipType"]!.string!) \($0["relatedSpdxElement"]!.string!)" }
        XCTAssertTrue(rels.contains("SPDXRef-DOCUMENT DESCRIBES SPDXRef-Image"))
        XCTAssertTrue(rels.contains("SPDXRef-Image CONTAINS SPDXRef-Package-apk-hello-2.12.1-r1"))
        XCTAssertTrue(rels.contains("SPDXRef-Package-apk-openssl-3.0.22-r0 DEPENDS_ON SPDXRef-Package-apk-libcrypto3-3.0.22-r0"), "so: dependency resolved")
        XCTAssertTrue(rels.contains("SPDXRef-Package-apk-openssl-3.0.22-r0 DEPENDS_ON SPDXRef-Package-apk-glibc-2.36-r0"), "versioned dependency resolved")
        XCTAssertTrue(rels.contains("SPDXRef-Package-apk-openssl-fips-provider-3.0.22-r0 CONTAINS SPDXRef-FIPSModule"))
        // One source package for the OpenSSL tarball shared by three packages.
        let sources = pkgs.filter { $0["primaryPackagePurpose"]?.string == "SOURCE" }
        XCTAssertEqual(sources.filter { $0["downloadLocation"]?.string == "https://www.openssl.org/source/openssl-3.0.22.tar.gz" }.count, 1)
        XCTAssertEqual(rels.filter { $0.hasSuffix("GENERATED_FROM " + (sources.first { $0["downloadLocation"]?.string?.contains("openssl") == true }!["SPDXID"]!.string!)) }.count, 3)
        let fipsModule = try XCTUnwrap(pkgs.first { $0["SPDXID"]?.string == "SPDXRef-FIPSModule" })
        XCTAssertEqual(fipsModule["versionInfo"]?.string, "3.0.22")
        XCTAssertTrue(fipsModule["comment"]!.string!.contains("fips-capable"))
        XCTAssertFalse(fipsModule["comment"]!.string!.contains("label: validated"))
        // The standard variant has no FIPS module.
        XCTAssertFalse(try JSON.parse(r[0].spdx!)["packages"]!.array!.contains { $0["SPDXID"]?.string == "SPDXRef-FIPSModule" })
        let cdx = try JSON.parse(r[1].cyclonedx!)
        XCTAssertEqual(cdx["specVersion"]?.string, "1.5")
        XCTAssertEqual(cdx["serialNumber"]?.string, "urn:uuid:" + ns.suffix(36))
        XCTAssertEqual(cdx["components"]?.array?.count, Fixture.fipsPackages.count + 1)
        let prov = try JSON.parse(r[1].provenance!)
        XCTAssertEqual(prov["subject"]?.array?.first?["digest"]?["sha256"]?.string, fips.hex)
        XCTAssertEqual(prov["predicate"]?["buildDefinition"]?["internalParameters"]?["fipsModule"]?["label"]?.string, "fips-capable")
        XCTAssertEqual(prov["predicate"]?["buildDefinition"]?["resolvedDependencies"]?.array?.count, Fixture.fipsPackages.count)
    }

    func testSameInputsGiveIdenticalSBOMsAndProvenance() throws {
        let a = try attachAll(startedOn: 1_800_000_000)
        // A second layout, built separately in another directory, later.
        let other = dir + "/other"
        let std2 = try Fixture.image(layoutPath: other, tag: "demo:1.0", packages: Fixture.standardPackages, fips: false)
        let fips2 = try Fixture.image(layoutPath: other, tag: "demo:1.0-fips", packages: Fixture.fipsPackages, fips: true)
        XCTAssertEqual(std2.digest, std.digest)
        var b: [AttachResult] = []
        for (d, tag) in [(std2, "demo:1.0"), (fips2, "demo:1.0-fips")] {
            var o = AttachOptions()
            o.tag = tag; o.sourceDateEpoch = Fixture.epoch; o.startedOn = 1_900_000_000; o.finishedOn = 1_900_000_100
            b.append(try Attestor.attach(layout: other, manifestDigest: d.digest, options: o, key: try PrivateKey.generate(.ecdsaP256)))
        }
        func stripRun(_ d: Data) throws -> Data {
            let j = try JSON.parse(d)
            let run = j["predicate"]!["runDetails"]!
            XCTAssertNotNil(run["metadata"]?["startedOn"])
            return j.setting("predicate", j["predicate"]!.setting("runDetails", run.removing("metadata"))).compact()
        }
        for i in 0..<2 {
            XCTAssertEqual(a[i].spdx, b[i].spdx)
            XCTAssertEqual(a[i].cyclonedx, b[i].cyclonedx)
            XCTAssertNotEqual(a[i].provenance, b[i].provenance, "startedOn/finishedOn are run-specific")
            XCTAssertEqual(try stripRun(a[i].provenance!), try stripRun(b[i].provenance!))
        }
        // And the SBOMs and provenance inside the attestations are the same bytes as the files.
        let layout = try OCILayout(path: layoutPath)
        let att = try layout.readJSON(try layout.resolve(CosignTag.attestation(for: std.digest)))
        for l in att["layers"]!.array! {
            let d = try OCIDescriptor(json: l, source: "t")
            let env = try DSSEEnvelope(json: try layout.readJSON(d), source: "t")
            let st = try JSON.parse(env.payload)
            if d.annotations["predicateType"] == InToto.spdxPredicate { XCTAssertEqual(st["predicate"]!.pretty(), a[0].spdx) }
            if d.annotations["predicateType"] == InToto.slsaProvenance { XCTAssertEqual(st.pretty(), a[0].provenance) }
        }
    }

    func testLockDigestsAndFIPSAnnotationsFlowIntoSBOMAndProvenance() throws {
        let img = try Fixture.image(layoutPath: layoutPath, tag: "demo:2.0-fips", packages: Fixture.fipsPackages, fips: true,
                                    annotations: ["dev.kiln.variant": "fips", "dev.kiln.fips.status": "validated",
                                                  "dev.kiln.fips.module": "OpenSSL FIPS Provider 3.1.2", "dev.kiln.fips.certificate": "4985",
                                                  "dev.kiln.fips.module.name": "OpenSSL FIPS Provider", "dev.kiln.fips.module.version": "3.1.2",
                                                  "dev.kiln.fips.package": "openssl-fips-provider-3.0.22-r0"])
        let lockPath = dir + "/demo.lock.json"
        let entries: [JSON] = Fixture.fipsPackages.map { p in
            ["name": .string(p.name), "version": .string(p.version), "arch": "x86_64", "checksum": "Q1xyz=",
             "sha256": .string(String(repeating: "c", count: 63) + "\(p.name.count % 10)")]
        }
        try AtomicFile.write(JSON.object([("lockVersion", 1), ("image", "demo"), ("config", "demo.yaml"),
                                          ("variants", .object([("fips", .array(entries)), ("standard", [])]))]).pretty(), to: lockPath)
        let lock = try Attestor.loadLock(path: lockPath)
        XCTAssertEqual(lock.config, "demo.yaml")
        var o = AttachOptions()
        o.lockedPackages = lock.variants["fips"]; o.configName = lock.config; o.configSHA256 = String(repeating: "d", count: 64)
        o.sourceDateEpoch = Fixture.epoch
        let r = try Attestor.attach(layout: layoutPath, manifestDigest: img.digest, options: o, key: key.key)
        let spdx = try JSON.parse(r.spdx!)
        let hello = spdx["packages"]!.array!.first { $0["name"]?.string == "hello" }!
        XCTAssertEqual(hello["checksums"]?.array?.first?["checksumValue"]?.string, String(repeating: "c", count: 63) + "5")
        let module = spdx["packages"]!.array!.first { $0["SPDXID"]?.string == "SPDXRef-FIPSModule" }!
        XCTAssertEqual(module["versionInfo"]?.string, "3.1.2")
        XCTAssertTrue(module["comment"]!.string!.contains("validated (CMVP certificate #4985)"))
        let prov = try JSON.parse(r.provenance!)["predicate"]!
        let deps = prov["buildDefinition"]!["resolvedDependencies"]!.array!
        XCTAssertEqual(deps.first?["name"]?.string, "demo.yaml")
        XCTAssertEqual(deps.first?["digest"]?["sha256"]?.string, String(repeating: "d", count: 64))
        XCTAssertEqual(deps.first { $0["name"]?.string == "hello" }?["digest"]?["sha256"]?.string, String(repeating: "c", count: 63) + "5")
        XCTAssertEqual(prov["buildDefinition"]!["internalParameters"]!["fipsModule"]!["cmvpCertificate"]?.string, "4985")
        // "validated" is never claimed without a certificate number.
        let noCert = ImageFIPSModule.fromAnnotations(["dev.kiln.fips.status": "validated", "dev.kiln.fips.module": "OpenSSL FIPS Provider 3.1.2"],
                                                        installed: [])
        XCTAssertEqual(noCert?.label.rawValue, "fips-capable")
        // The identity is read from the typed fields; the display string is never split (a layout
        // without them keeps the whole string as the name and takes the version from the package).
        let typed = ImageFIPSModule.fromAnnotations(["dev.kiln.fips.module": "My Module 2 3.4", "dev.kiln.fips.module.name": "My Module 2",
                                                      "dev.kiln.fips.module.version": "3.4"], installed: [])
        XCTAssertEqual(typed?.name, "My Module 2"); XCTAssertEqual(typed?.version, "3.4")
        let old = ImageFIPSModule.fromAnnotations(["dev.kiln.fips.module": "OpenSSL FIPS Provider 3.1.2"], installed: [])
        XCTAssertEqual(old?.name, "OpenSSL FIPS Provider 3.1.2"); XCTAssertEqual(old?.version, "")
        // The variant checks pass; only the (absent) boundary attestation stops --require-fips.
        expectFailure("demo:2.0-fips", check: "fips-boundary demo:2.0-fips", reason: "no FIPS boundary attestation", requireFIPS: true)
    }

    // MARK: tampering

    func testFlippedLayerByteIsDetected() throws {
        _ = try attachAll()
        let m = try OCILayout(path: layoutPath).readJSON(std)
        try Fixture.flipByte(try OCILayout(path: layoutPath), digest: m["layers"]!.array![0]["digest"]!.string!)
        expectFailure("demo:1.0", check: "blob demo:1.0 layer 0", reason: "the blob was modified")
    }

    func testFlippedConfigByteIsDetected() throws {
        _ = try attachAll()
        let m = try OCILayout(path: layoutPath).readJSON(std)
        try Fixture.flipByte(try OCILayout(path: layoutPath), digest: m["config"]!["digest"]!.string!)
        expectFailure("demo:1.0", check: "blob demo:1.0 config", reason: "the blob was modified")
    }

    func testFlippedManifestByteIsDetected() throws {
        _ = try attachAll()
        try Fixture.flipByte(try OCILayout(path: layoutPath), digest: std.digest, at: 0.3)
        expectFailure("demo:1.0", check: "blob demo:1.0 manifest", reason: "the blob was modified")
    }

    func sbomLayer(_ layout: OCILayout, _ image: OCIDescriptor) throws -> OCIDescriptor {
        let att = try layout.readJSON(try layout.resolve(CosignTag.attestation(for: image.digest)))
        return try att["layers"]!.array!.map { try OCIDescriptor(json: $0, source: "t") }
            .first { $0.annotations["predicateType"] == InToto.spdxPredicate }!
    }

    func testFlippedSBOMByteIsDetected() throws {
        _ = try attachAll()
        let layout = try OCILayout(path: layoutPath)
        try Fixture.flipByte(layout, digest: try sbomLayer(layout, std).digest, at: 0.5)
        expectFailure("demo:1.0", check: "blob demo:1.0 attestation layer", reason: "the blob was modified")
    }

    func testEditedSBOMWithConsistentDigestsFailsTheSignature() throws {
        _ = try attachAll()
        let layout = try OCILayout(path: layoutPath)
        let old = try sbomLayer(layout, std)
        var env = try DSSEEnvelope(json: try layout.readJSON(old), source: "t")
        env.payload = Data(String(decoding: env.payload, as: UTF8.self).replacingOccurrences(of: "2.12.1-r1", with: "2.12.1-r9").utf8)
        let newBlob = try layout.writeBlob(env.json.compact(), mediaType: old.mediaType, annotations: old.annotations)
        try Fixture.rechain(layout, tag: CosignTag.attestation(for: std.digest)) { m in
            m.setting("layers", .array(m["layers"]!.array!.map { $0["digest"]?.string == old.digest ? newBlob.json : $0 }))
        }
        expectFailure("demo:1.0", check: "attestation demo:1.0 \(InToto.spdxPredicate)", reason: "DSSE signature does not verify")
    }

    func testFlippedPayloadAndSignatureAreDetected() throws {
        _ = try attachAll()
        let layout = try OCILayout(path: layoutPath)
        let sigTag = CosignTag.signature(for: std.digest)
        let sigManifest = try layout.readJSON(try layout.resolve(sigTag))
        let payloadDesc = try OCIDescriptor(json: sigManifest["layers"]!.array![0], source: "t")
        // 1. a raw flip in the payload blob
        let saved = try layout.readBlob(payloadDesc)
        try Fixture.flipByte(layout, digest: payloadDesc.digest, at: 0.9)
        expectFailure("demo:1.0", check: "blob demo:1.0 signature layer 0", reason: "the blob was modified")
        try AtomicFile.write(saved, to: try layout.blobPath(payloadDesc.digest))
        XCTAssertNoThrow(try verify("demo:1.0"))
        // 2. an edited payload stored with consistent digests: the signature no longer covers it
        var text = String(decoding: saved, as: UTF8.self)
        text = text.replacingOccurrences(of: "\"demo\"", with: "\"evil\"")
        let edited = try layout.writeBlob(Data(text.utf8), mediaType: payloadDesc.mediaType, annotations: payloadDesc.annotations)
        try Fixture.rechain(layout, tag: sigTag) { $0.setting("layers", [edited.json]) }
        expectFailure("demo:1.0", check: "signature demo:1.0", reason: "does not verify with the key")
        // 3. a flipped byte in the signature itself
        var der = [UInt8](Base64.decode(payloadDesc.annotations[OCIMediaType.cosignSignature]!)!)
        der[der.count - 3] ^= 0x01
        var flipped = payloadDesc
        flipped.annotations[OCIMediaType.cosignSignature] = Data(der).base64EncodedString()
        try Fixture.rechain(layout, tag: sigTag) { $0.setting("layers", [flipped.json]) }
        expectFailure("demo:1.0", check: "signature demo:1.0", reason: "does not verify with the key")
    }

    func testSignatureFromAnotherKeyIsRejected() throws {
        _ = try attachAll()
        let other = try Fixture.keyPair(dir, name: "other")
        expectFailure("demo:1.0", check: "signature demo:1.0", reason: "does not verify with the key", key: other.pubPath)
        // Signed by the other key instead (replacing ours): verifying with ours fails too.
        let layout = try OCILayout(path: layoutPath)
        let sigTag = CosignTag.signature(for: std.digest)
        try Attestor.sign(layout: layout, manifestDigest: std.digest, dockerReference: "demo", key: other.key)
        let both = try layout.readJSON(try layout.resolve(sigTag))["layers"]!.array!
        XCTAssertEqual(both.count, 2, "a second signer's signature is added, not replacing the first")
        // With the other key the signature now verifies; the attestations (by our key) are what fail.
        expectFailure("demo:1.0", check: "attestation demo:1.0", reason: "DSSE signature does not verify", key: other.pubPath)
        try Fixture.rechain(layout, tag: sigTag) { $0.setting("layers", [both[1]]) }
        expectFailure("demo:1.0", check: "signature demo:1.0", reason: "does not verify with the key")
    }

    func testAttestationForAnotherImageIsRejected() throws {
        _ = try attachAll()
        let layout = try OCILayout(path: layoutPath)
        // Move the fips image's SBOM attestation (validly signed, subject = fips image) under the standard image's tag.
        let fipsSBOM = try sbomLayer(layout, fips)
        try Fixture.rechain(layout, tag: CosignTag.attestation(for: std.digest)) { m in
            m.setting("layers", .array(m["layers"]!.array!.map { $0["annotations"]?["predicateType"]?.string == InToto.spdxPredicate ? fipsSBOM.json : $0 }))
        }
        expectFailure("demo:1.0", check: "attestation demo:1.0 \(InToto.spdxPredicate)", reason: "not this image's \(std.digest)")
    }

    func testSBOMThatDisagreesWithInstalledPackagesIsRejected() throws {
        _ = try attachAll()
        // A validly signed SBOM made for a package list without `hello`.
        let sbom = try ImageSBOM(ImageSBOMInput(
            imageName: "demo", manifestDigest: std.digest, architecture: "amd64",
            packages: try APKIndex.parseInstalledDatabase(Fixture.installedDB(Fixture.standardPackages.filter { $0.name != "hello" }), file: "installed"),
            created: Fixture.epoch))
        let st = InToto.statement(subjectName: "demo", digest: std.digest, predicateType: InToto.spdxPredicate, predicate: try sbom.spdx())
        try Attestor.attest(layout: try OCILayout(path: layoutPath), manifestDigest: std.digest,
                            statements: [(InToto.spdxPredicate, st)], key: key.key)
        expectFailure("demo:1.0", check: "sbom demo:1.0", reason: "installed but not in the SBOM: hello 2.12.1-r1")
    }

    func testMissingSignatureAndAttestationAreReported() throws {
        expectFailure("demo:1.0", check: "signature demo:1.0", reason: "no signature")
        var o = AttachOptions(); o.attest = false
        _ = try Attestor.attach(layout: layoutPath, manifestDigest: std.digest, options: o, key: key.key)
        expectFailure("demo:1.0", check: "attestations demo:1.0", reason: "no attestations")
    }
}
