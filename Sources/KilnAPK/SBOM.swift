import Foundation
import KilnCore
import KilnCrypto

/// The per-package SPDX 2.3 JSON document placed at `var/lib/db/sbom/<name>-<ver>-r<N>.spdx.json`
/// (where apko looks for it). Deterministic: `created` is the build date (SOURCE_DATE_EPOCH) and
/// the namespace is derived from `contentDigest` (a digest of the package's file list and
/// metadata), never random.
public enum PackageSBOM {
    /// `SPDXRef-` id string: letters, digits, `.` and `-` only.
    public static func spdxID(_ s: String) -> String {
        "SPDXRef-" + String(s.unicodeScalars.map { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "." || $0 == "-") ? Character($0) : "-" })
    }

    /// `pkg:apk/<distro>/<name>@<version>-r<epoch>?arch=<arch>&distro=<distro>`
    public static func purl(_ spec: PackageSpec) -> String {
        APKPurl.make(name: spec.name, version: spec.fullVersion, arch: spec.arch, distro: spec.distro)
    }

    static func percentEncode(_ s: String) -> String { APKPurl.escape(s) }

    /// `Organization: X` form for a supplier given as a bare name; `NOASSERTION` when unknown.
    static func supplierField(_ s: String?) -> String {
        guard let s, !s.trimmingCharacters(in: .whitespaces).isEmpty else { return "NOASSERTION" }
        if s.hasPrefix("Organization:") || s.hasPrefix("Person:") || s == "NOASSERTION" { return s }
        return "Organization: \(s)"
    }

    /// A name-based UUID (RFC 4122 version 5 layout, over SHA-256 truncated) from `digestHex`.
    static func uuid(fromDigestHex hex: String) throws -> String {
        var b = try Digest.hash(.sha256, Data(("kiln-spdx:" + hex).utf8))
        b[6] = (b[6] & 0x0f) | 0x50
        b[8] = (b[8] & 0x3f) | 0x80
        let h = Array(b.prefix(16)).hexString
        let c = Array(h)
        return "\(String(c[0..<8]))-\(String(c[8..<12]))-\(String(c[12..<16]))-\(String(c[16..<20]))-\(String(c[20..<32]))"
    }

    /// The SBOM bytes (pretty JSON, sorted keys, trailing newline).
    public static func document(for spec: PackageSpec, contentDigest: String) throws -> Data {
        let pkgID = spdxID("Package-\(spec.name)-\(spec.fullVersion)")
        var pkg: [String: Any] = [
            "name": spec.name,
            "SPDXID": pkgID,
            "versionInfo": spec.fullVersion,
            "supplier": supplierField(spec.supplier),
            // The .apk has no fixed download URL (repositories move); the project URL is `homepage`.
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": spec.license.isEmpty ? "NOASSERTION" : spec.license,
            "copyrightText": "NOASSERTION",
            "externalRefs": [[
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": purl(spec),
            ]],
        ]
        if !spec.description.isEmpty { pkg["description"] = oneLine(spec.description) }
        if !spec.url.isEmpty { pkg["homepage"] = spec.url }
        var packages: [[String: Any]] = [pkg]
        var relationships: [[String: Any]] = [[
            "spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": pkgID,
        ]]
        for (i, src) in spec.sources.enumerated() {
            let sid = spdxID("Source-\(i + 1)-\(sourceName(src.uri))")
            var s: [String: Any] = [
                "name": sourceName(src.uri),
                "SPDXID": sid,
                "downloadLocation": src.uri.isEmpty ? "NOASSERTION" : src.uri,
                "filesAnalyzed": false,
                "primaryPackagePurpose": "SOURCE",
                "supplier": "NOASSERTION",
                "licenseConcluded": "NOASSERTION",
                "licenseDeclared": "NOASSERTION",
                "copyrightText": "NOASSERTION",
            ]
            if let sha = src.sha256, !sha.isEmpty {
                s["checksums"] = [["algorithm": "SHA256", "checksumValue": sha.lowercased()]]
            }
            packages.append(s)
            relationships.append(["spdxElementId": pkgID, "relationshipType": "GENERATED_FROM", "relatedSpdxElement": sid])
        }
        let docName = "apk-\(spec.name)-\(spec.fullVersion)"
        let doc: [String: Any] = [
            "spdxVersion": "SPDX-2.3",
            "dataLicense": "CC0-1.0",
            "SPDXID": "SPDXRef-DOCUMENT",
            "name": docName,
            "documentNamespace": "https://spdx.org/spdxdocs/kiln/apk/\(percentEncode(docName))-\(try uuid(fromDigestHex: contentDigest))",
            "creationInfo": [
                "created": SourceDateEpoch.rfc3339(spec.buildDate),
                "creators": ["Tool: kiln-\(KilnVersion.current)"] + (spec.supplier.map { _ in [supplierField(spec.supplier)] } ?? []),
                "licenseListVersion": "3.27",
            ],
            "documentDescribes": [pkgID],
            "packages": packages,
            "relationships": relationships,
        ]
        var data = try JSONSerialization.data(withJSONObject: doc, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        data.append(0x0a)
        return data
    }

    static func oneLine(_ s: String) -> String {
        s.split(whereSeparator: { $0.isNewline }).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
    }

    /// A readable name for a source URI (its last path segment).
    static func sourceName(_ uri: String) -> String {
        var u = uri
        if let q = u.firstIndex(where: { $0 == "?" || $0 == "#" }) { u = String(u[..<q]) }
        while u.hasSuffix("/") { u.removeLast() }
        let last = u.split(separator: "/").last.map(String.init) ?? uri
        return last.isEmpty ? "source" : last
    }
}
