import Foundation
import KilnAPK
import XCTest
@testable import KilnAttest

/// One purl per package: the provenance's resolved dependency, the image SBOM's fallback and the
/// package SBOM (asserted in KilnAPKTests.SBOMTests) all come from `APKPurl`. Before, the
/// provenance wrote `pkg:apk/kiln/hello@2.12.1-r1?arch=x86_64` (no distro qualifier, unescaped).
final class PurlTests: XCTestCase {
    func testProvenanceUsesThePackagePurl() throws {
        let pred = Provenance.predicate(ProvenanceInput(packages: [
            ResolvedPackage(name: "hello", version: "2.12.1-r1", arch: "x86_64"),
            ResolvedPackage(name: "we ird", version: "1-r0", arch: "x86_64"),
        ], sourceDateEpoch: 0))
        let deps = try XCTUnwrap(pred["buildDefinition"]?["resolvedDependencies"]?.array)
        XCTAssertEqual(deps.map { $0["uri"]?.string }, [
            "pkg:apk/kiln/hello@2.12.1-r1?arch=x86_64&distro=kiln",
            "pkg:apk/kiln/we%20ird@1-r0?arch=x86_64&distro=kiln",
        ])
        XCTAssertEqual(APKPurl.make(name: "hello", version: "2.12.1-r1", arch: "x86_64", distro: "Kiln"),
                       "pkg:apk/kiln/hello@2.12.1-r1?arch=x86_64&distro=kiln")
    }
}
