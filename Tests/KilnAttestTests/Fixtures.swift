import Foundation
import KilnOCI
import KilnAPK
import KilnArchive
import KilnAttest
import KilnCore
import KilnCrypto
import KilnTestSupport
import XCTest

/// Small hand-built OCI layouts: one gzip'd layer holding an apk installed database, the packages'
/// own SPDX documents and (for the fips variant) the provider's files. Real tar, real gzip, real digests.
enum Fixture {
    struct Pkg {
        var name: String
        var version: String
        var license = "MIT"
        var depends: [String] = []
        var provides: [String] = []
        var source: (url: String, sha256: String)? = nil
    }

    static let epoch: Int64 = 1_700_000_000

    static var standardPackages: [Pkg] {
        [Pkg(name: "glibc", version: "2.36-r0", license: "LGPL-2.1-or-later", provides: ["so:libc.so.6=6"],
             source: ("https://ftp.gnu.org/gnu/glibc/glibc-2.36.tar.xz", String(repeating: "a1", count: 32))),
         Pkg(name: "libcrypto3", version: "3.0.22-r0", license: "Apache-2.0", depends: ["so:libc.so.6"],
             provides: ["so:libcrypto.so.3=3"],
             source: ("https://www.openssl.org/source/openssl-3.0.22.tar.gz", "67ebca7e50d17383028045486653492195b83db95f8558709701bb47b5c1ef81")),
         Pkg(name: "openssl", version: "3.0.22-r0", license: "Apache-2.0", depends: ["so:libcrypto.so.3", "glibc>=2.36"],
             provides: ["cmd:openssl=3.0.22-r0"],
             source: ("https://www.openssl.org/source/openssl-3.0.22.tar.gz", "67ebca7e50d17383028045486653492195b83db95f8558709701bb47b5c1ef81")),
         Pkg(name: "hello", version: "2.12.1-r1", license: "GPL-3.0-or-later", depends: ["so:libc.so.6"],
             source: ("https://ftp.gnu.org/gnu/hello/hello-2.12.1.tar.gz", String(repeating: "b2", count: 32)))]
    }

    static var fipsPackages: [Pkg] {
        standardPackages + [
            Pkg(name: "openssl-fips-provider", version: "3.0.22-r0", license: "Apache-2.0", depends: ["so:libc.so.6"],
                source: ("https://www.openssl.org/source/openssl-3.0.22.tar.gz", "67ebca7e50d17383028045486653492195b83db95f8558709701bb47b5c1ef81")),
            Pkg(name: "openssl-config-fips", version: "1-r0", license: "Apache-2.0", depends: ["openssl-fips-provider"]),
        ]
    }

    static func packageSBOM(_ p: Pkg) -> JSON {
        let id = "SPDXRef-Package-\(p.name)-\(p.version)"
        var packages: [JSON] = [[
            "name": .string(p.name), "SPDXID": .string(id), "versionInfo": .string(p.version),
            "supplier": "Organization: kiln", "downloadLocation": "NOASSERTION", "filesAnalyzed": false,
            "licenseDeclared": .string(p.license), "copyrightText": "NOASSERTION",
            "externalRefs": [["referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                              "referenceLocator": .string("pkg:apk/kiln/\(p.name)@\(p.version)?arch=x86_64")]],
        ]]
        var rels: [JSON] = [["spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": .string(id)]]
        if let s = p.source {
            packages.append(["name": .string(p.name + "-source"), "SPDXID": "SPDXRef-Source-0",
                             "downloadLocation": .string(s.url), "filesAnalyzed": false,
                             "checksums": [["algorithm": "SHA256", "checksumValue": .string(s.sha256)]]])
            rels.append(["spdxElementId": .string(id), "relationshipType": "GENERATED_FROM", "relatedSpdxElement": "SPDXRef-Source-0"])
        }
        return ["spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
                "name": .string("apk-\(p.name)-\(p.version)"),
                "documentNamespace": .string("https://kiln.dev/spdxdocs/apk/\(p.name)-\(p.version)"),
                "creationInfo": ["created": "2023-11-14T22:13:20Z", "creators": ["Tool: kiln-0.1.0"]],
                "packages": .array(packages), "relationships": .array(rels)]
    }

    /// The package's own SBOM exactly as KilnAPK writes it into the package.
    static func realPackageSBOM(_ p: Pkg) throws -> Data {
        let dash = p.version.range(of: "-r", options: .backwards)!
        var spec = PackageSpec(name: p.name, version: String(p.version[..<dash.lowerBound]),
                               epoch: Int(p.version[dash.upperBound...])!, arch: "x86_64")
        spec.license = p.license
        spec.url = "https://example.org/\(p.name)"
        spec.description = "the \(p.name) package"
        spec.supplier = "kiln"
        spec.buildDate = epoch
        if let s = p.source { spec.sources = [.init(uri: s.url, sha256: s.sha256)] }
        XCTAssertEqual(spec.sbomPath, "var/lib/db/sbom/\(p.name)-\(p.version).spdx.json")
        return try PackageSBOM.document(for: spec, contentDigest: try Digest.sha256Hex(Data(p.name.utf8)))
    }

    static func installedDB(_ pkgs: [Pkg]) -> String {
        var s = ""
        for p in pkgs {
            s += "C:Q1\(Data(p.name.utf8).base64EncodedString())=\nP:\(p.name)\nV:\(p.version)\nA:x86_64\nS:1000\nI:4096\n"
            s += "T:the \(p.name) package\nU:https://example.org/\(p.name)\nL:\(p.license)\no:\(p.name)\nt:\(epoch)\n"
            if !p.depends.isEmpty { s += "D:\(p.depends.joined(separator: " "))\n" }
            if !p.provides.isEmpty { s += "p:\(p.provides.joined(separator: " "))\n" }
            s += "F:usr/share/doc/\(p.name)\nR:README\na:0:0:644\nZ:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n"
        }
        return s
    }

    static func file(_ path: String, _ content: String, mode: UInt32 = 0o644) -> TarEntry {
        let d = Data(content.utf8)
        return TarEntry(path: path, kind: .file, mode: mode, content: .data(d), size: Int64(d.count))
    }

    /// Writes an image into `layoutPath` (created if needed) and tags it; returns its manifest descriptor.
    @discardableResult
    static func image(layoutPath: String, tag: String, packages: [Pkg], fips: Bool, extraFile: String? = nil,
                      annotations: [String: String] = [:]) throws -> OCIDescriptor {
        let layout = try OCILayout.create(at: layoutPath)
        var entries: [TarEntry] = []
        for d in ["etc", "lib", "lib/apk", "lib/apk/db", "var", "var/lib", "var/lib/db", "var/lib/db/sbom", "usr", "usr/bin"] {
            entries.append(TarEntry(path: d, kind: .directory, mode: 0o755))
        }
        entries.append(file("lib/apk/db/installed", installedDB(packages)))
        for p in packages {
            // Every package but hello carries KilnAPK's real SBOM; hello a melange-style one (both shapes must work).
            let sbom = p.name != "hello" ? try realPackageSBOM(p) : packageSBOM(p).pretty()
            entries.append(file("var/lib/db/sbom/\(p.name)-\(p.version).spdx.json", String(decoding: sbom, as: UTF8.self)))
        }
        entries.append(file("usr/bin/hello", "#!/bin/sh\necho hello\n", mode: 0o755))
        if let extraFile { entries.append(file("etc/extra", extraFile)) }
        if fips {
            entries.append(TarEntry(path: "usr/lib", kind: .directory, mode: 0o755))
            entries.append(TarEntry(path: "usr/lib/ossl-modules", kind: .directory, mode: 0o755))
            entries.append(file("usr/lib/ossl-modules/fips.so", "\u{7F}ELF not really a provider"))
            entries.append(TarEntry(path: "etc/ssl", kind: .directory, mode: 0o755))
            entries.append(file("etc/ssl/fipsmodule.cnf", "[fips_sect]\nactivate = 1\ninstall-version = 1\nmodule-mac = 00\n"))
            entries.append(file("etc/ssl/openssl.cnf", TestSupport.fipsEnforcingConfig(include: "/etc/ssl/fipsmodule.cnf")))
        }
        let tar = try TarWriter.archive(entries, options: TarWriterOptions(epoch: epoch))
        let diffID = "sha256:" + (try Digest.sha256Hex(tar))
        let layer = try layout.writeBlob(try Gzip.compress(tar), mediaType: "application/vnd.oci.image.layer.v1.tar+gzip")
        var labels: [(String, JSON)] = []
        if fips { labels.append(("dev.kiln.image.variant", "fips")) }
        let config: JSON = [
            "created": .string(SourceDateEpoch.rfc3339(epoch)), "architecture": "amd64", "os": "linux",
            "config": .object([("Entrypoint", ["/usr/bin/hello"]), ("Labels", .object(labels))]),
            "rootfs": ["type": "layers", "diff_ids": [.string(diffID)]],
            "history": [["created": .string(SourceDateEpoch.rfc3339(epoch)), "created_by": "kiln"]],
        ]
        let cfg = try layout.writeBlob(config.compact(), mediaType: OCIMediaType.imageConfig)
        let manifest: JSON = ["schemaVersion": 2, "mediaType": .string(OCIMediaType.imageManifest),
                              "config": cfg.json, "layers": [layer.json],
                              "annotations": .object([("org.opencontainers.image.created", .string(SourceDateEpoch.rfc3339(epoch)))]
                                  + annotations.sorted { $0.key < $1.key }.map { ($0.key, JSON.string($0.value)) })]
        let m = try layout.writeBlob(manifest.compact(), mediaType: OCIMediaType.imageManifest)
        try layout.setTag(tag, to: m)
        return m
    }

    /// A fresh ECDSA P-256 key pair written as NAME.key / NAME.pub in `dir`.
    static func keyPair(_ dir: String, name: String) throws -> (key: PrivateKey, keyPath: String, pubPath: String) {
        let k = try PrivateKey.generate(.ecdsaP256)
        try k.save(to: "\(dir)/\(name).key")
        try AtomicFile.write(try k.publicKey.pem(), to: "\(dir)/\(name).pub")
        return (k, "\(dir)/\(name).key", "\(dir)/\(name).pub")
    }

    /// Rewrites the manifest tagged `tag` with `edit` applied, storing the new manifest and re-tagging it
    /// (so only the deeper check can catch what `edit` did).
    static func rechain(_ layout: OCILayout, tag: String, edit: (JSON) throws -> JSON) throws {
        let d = try layout.resolve(tag)
        let j = try edit(try layout.readJSON(d))
        let m = try layout.writeBlob(j.compact(), mediaType: d.mediaType)
        try layout.setTag(tag, to: m)
    }

    /// Flips one byte in the middle of a blob file.
    static func flipByte(_ layout: OCILayout, digest: String, at fraction: Double = 0.5) throws {
        let p = try layout.blobPath(digest)
        var d = try Data(contentsOf: URL(fileURLWithPath: p))
        let i = min(d.count - 1, Int(Double(d.count) * fraction))
        d[i] ^= 0x01
        try d.write(to: URL(fileURLWithPath: p))
    }
}
