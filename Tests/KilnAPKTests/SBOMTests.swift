import Foundation
import KilnAPK
import KilnTestSupport
import XCTest

/// The per-package SPDX 2.3 document: contents, determinism, and validation with pyspdxtools.
final class SBOMTests: XCTestCase {
    func testSBOMInPackageIsValidSPDX() throws {
        let tmp = try TestSupport.temporaryDirectory(self, prefix: "kiln-sbom")
        try Fixture.simpleTree(tmp + "/t")
        let out = try APKWriter.write(spec: Fixture.spec(), root: tmp + "/t", to: tmp + "/h.apk", signer: nil)
        let p = try APKReader.read(path: out.path, options: APKVerifyOptions(allowUntrusted: true))
        let entry = try XCTUnwrap(p.entries.first { $0.path == "var/lib/db/sbom/hello-2.12.1-r1.spdx.json" })
        XCTAssertEqual(entry.data, out.sbom)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: entry.data) as? [String: Any])
        XCTAssertEqual(doc["spdxVersion"] as? String, "SPDX-2.3")
        let ci = try XCTUnwrap(doc["creationInfo"] as? [String: Any])
        XCTAssertEqual(ci["created"] as? String, "2023-11-14T22:13:20Z", "created = SOURCE_DATE_EPOCH")
        let ns = try XCTUnwrap(doc["documentNamespace"] as? String)
        XCTAssertTrue(ns.hasPrefix("https://"), ns); XCTAssertFalse(ns.contains("#"))
        let pkgs = try XCTUnwrap(doc["packages"] as? [[String: Any]])
        let main = pkgs[0]
        XCTAssertEqual(main["name"] as? String, "hello")
        XCTAssertEqual(main["versionInfo"] as? String, "2.12.1-r1")
        XCTAssertEqual(main["licenseDeclared"] as? String, "GPL-3.0-or-later")
        XCTAssertEqual(main["supplier"] as? String, "Organization: Example Corp")
        XCTAssertEqual(main["homepage"] as? String, "https://example.org/hello")
        let refs = try XCTUnwrap(main["externalRefs"] as? [[String: Any]])
        XCTAssertEqual(refs[0]["referenceLocator"] as? String, "pkg:apk/kiln/hello@2.12.1-r1?arch=x86_64&distro=kiln")
        XCTAssertEqual(refs[0]["referenceCategory"] as? String, "PACKAGE-MANAGER")
        let src = pkgs[1]
        XCTAssertEqual(src["downloadLocation"] as? String, "https://example.org/hello-2.12.1.tar.gz")
        XCTAssertEqual((src["checksums"] as? [[String: String]])?.first?["checksumValue"], String(repeating: "ab", count: 32))
        let rels = try XCTUnwrap(doc["relationships"] as? [[String: String]])
        XCTAssertTrue(rels.contains { $0["relationshipType"] == "GENERATED_FROM" && $0["relatedSpdxElement"] == src["SPDXID"] as? String })
        XCTAssertTrue(rels.contains { $0["relationshipType"] == "DESCRIBES" && $0["spdxElementId"] == "SPDXRef-DOCUMENT" })
        // Validate with the SPDX project's own tool (installed by `make venv`).
        let tool = TestSupport.packageRoot + "/.venv/bin/pyspdxtools"
        guard FileManager.default.isExecutableFile(atPath: tool) else {
            return XCTFail("\(tool) missing: run `make venv` (make test does it)")
        }
        let f = tmp + "/hello.spdx.json"
        try entry.data.write(to: URL(fileURLWithPath: f))
        let r = try TestSupport.run(tool, ["-i", f])
        XCTAssertEqual(r.status, 0, "pyspdxtools: \(r.out) \(r.err)")
        XCTAssertFalse((r.out + r.err).lowercased().contains("invalid"), r.out + r.err)
    }

    func testSBOMIsDeterministicAndContentDerived() throws {
        let spec = Fixture.spec()
        let a = try PackageSBOM.document(for: spec, contentDigest: "aa")
        XCTAssertEqual(a, try PackageSBOM.document(for: spec, contentDigest: "aa"))
        let b = try PackageSBOM.document(for: spec, contentDigest: "bb")
        XCTAssertNotEqual(a, b, "namespace follows the content digest")
        var s2 = spec; s2.supplier = nil; s2.license = ""; s2.sources = []
        let c = try JSONSerialization.jsonObject(with: PackageSBOM.document(for: s2, contentDigest: "aa")) as? [String: Any]
        let pkg = (c?["packages"] as? [[String: Any]])?.first
        XCTAssertEqual(pkg?["supplier"] as? String, "NOASSERTION")
        XCTAssertEqual(pkg?["licenseDeclared"] as? String, "NOASSERTION")
    }
}
