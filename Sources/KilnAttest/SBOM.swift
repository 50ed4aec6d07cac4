import Foundation
import KilnOCI
import KilnAPK
import KilnCore
import KilnFIPS
import KilnCrypto

/// What an image's SBOMs and provenance say about its FIPS module: the part of KilnFIPS's
/// `FIPSModuleIdentity` (the one identity type, written into the provider package) that KilnImage
/// records on the manifest, plus the provider package found in the image. `label` is KilnFIPS's
/// `FIPSLabel`: `validated` (a CMVP-listed module built from exactly that source) or `fips-capable`.
public struct ImageFIPSModule: Equatable, Sendable {
    /// Module name (e.g. "OpenSSL FIPS Provider").
    public var name: String
    /// Module version (upstream, without `-rN`).
    public var version: String
    /// kiln's label.
    public var label: FIPSLabel
    /// CMVP certificate number (only with `validated`).
    public var certificate: String?
    /// The provider package's name.
    public var providerPackage: String?

    /// A module statement with the given facts.
    public init(name: String, version: String, label: FIPSLabel, certificate: String? = nil, providerPackage: String? = nil) {
        self.name = name; self.version = version; self.label = label
        self.certificate = certificate; self.providerPackage = providerPackage
    }

    static let providerPackagePrefix = FIPSPackageName.provider

    /// What can be said from the installed database alone: the provider package's name and version,
    /// labelled `fips-capable` (only a caller that checked the module registry may say `validated`).
    public static func fromInstalled(_ packages: [APKIndexRecord]) -> ImageFIPSModule? {
        guard let p = packages.first(where: { $0.name.hasPrefix(providerPackagePrefix) }) else { return nil }
        let upstream = p.version.range(of: "-r", options: .backwards).map { String(p.version[..<$0.lowerBound]) } ?? p.version
        return ImageFIPSModule(name: "OpenSSL FIPS Provider", version: upstream, label: .fipsCapable, providerPackage: p.name)
    }

    /// The identity KilnImage records on fips manifests (`dev.kiln.fips.status|module|certificate|package`).
    public static func fromAnnotations(_ a: [String: String], installed: [APKIndexRecord]) -> ImageFIPSModule? {
        guard let module = a[FIPSAnnotationKey.module], !module.isEmpty else { return nil }
        // The typed fields; a layout made before they existed names the module by its display string,
        // and its version comes from the provider package below.
        let name = a[FIPSAnnotationKey.moduleName].flatMap { $0.isEmpty ? nil : $0 } ?? module
        var version = a[FIPSAnnotationKey.moduleVersion] ?? ""
        let cert = a[FIPSAnnotationKey.certificate].flatMap { $0.isEmpty ? nil : String($0.drop { $0 == "#" }) }
        // "validated" only with a certificate number; anything else is fips-capable.
        let label: FIPSLabel = (a[FIPSAnnotationKey.status] == FIPSLabel.validated.rawValue && cert != nil) ? .validated : .fipsCapable
        let pkg = a[FIPSAnnotationKey.package].flatMap { p in installed.first { $0.nameVersion == p || $0.name == p }?.name }
            ?? installed.first { $0.name.hasPrefix(providerPackagePrefix) }?.name
        if version.isEmpty, let pkg, let v = installed.first(where: { $0.name == pkg })?.version {
            version = v.range(of: "-r", options: .backwards).map { String(v[..<$0.lowerBound]) } ?? v
        }
        return ImageFIPSModule(name: name, version: version, label: label, certificate: label == .validated ? cert : nil, providerPackage: pkg)
    }

    /// One sentence for SBOM comments: never "validated" without a certificate.
    public var statement: String {
        if label == .validated, let c = certificate {
            return "FIPS 140 cryptographic module \(name) \(version); kiln label: validated (CMVP certificate #\(c))"
        }
        return "FIPS 140 cryptographic module \(name) \(version); kiln label: fips-capable (not a CMVP-validated module build)"
    }

    public var json: JSON {
        var o: [(String, JSON)] = [("name", .string(name)), ("version", .string(version)), ("label", .string(label.rawValue))]
        if let certificate { o.append(("cmvpCertificate", .string(certificate))) }
        if let providerPackage { o.append(("providerPackage", .string(providerPackage))) }
        return .object(o)
    }
}

/// Which SBOM documents to write.
public enum SBOMFormat: String, CaseIterable, Sendable {
    case spdx, cyclonedx, both
    public var spdx: Bool { self != .cyclonedx }
    public var cyclonedx: Bool { self != .spdx }
}

/// Everything an image SBOM is made from. Nothing here depends on the wall clock or the host.
public struct ImageSBOMInput: Sendable {
    public var imageName: String
    public var manifestDigest: String          // sha256:<hex>
    public var architecture: String            // OCI spelling (amd64)
    public var tag: String?
    public var variant: String?                // standard | fips
    public var packages: [APKIndexRecord]
    public var packageSBOMs: [String: JSON]    // "<name>-<version>" -> per-package SPDX document
    public var packageDigests: [String: String] // "<name>-<version>" -> sha256 hex of the .apk (from the lock)
    public var fipsModule: ImageFIPSModule?
    public var created: Int64                  // SOURCE_DATE_EPOCH
    public var distro: String                  // purl namespace for packages whose own SBOM has no purl

    public init(imageName: String, manifestDigest: String, architecture: String, tag: String? = nil, variant: String? = nil,
                packages: [APKIndexRecord], packageSBOMs: [String: JSON] = [:], packageDigests: [String: String] = [:],
                fipsModule: ImageFIPSModule? = nil, created: Int64, distro: String = "kiln") {
        self.imageName = imageName; self.manifestDigest = manifestDigest; self.architecture = architecture
        self.tag = tag; self.variant = variant; self.packages = packages; self.packageSBOMs = packageSBOMs
        self.packageDigests = packageDigests; self.fipsModule = fipsModule; self.created = created; self.distro = distro
    }
}

/// Builds the image SBOM (SPDX 2.3 JSON, CycloneDX 1.5 JSON) from an ImageSBOMInput. Output bytes are a
/// function of the input only: packages sorted by name, ids derived from names, `created` from the
/// epoch, namespace / serial number from the image digest (UUIDv5 of `kiln:image:<digest>`).
public struct ImageSBOM {
    public let input: ImageSBOMInput

    struct Source: Hashable { var name: String; var version: String?; var download: String; var checksums: [String: String] }
    struct Pkg {
        var installed: APKIndexRecord
        var spdxID: String
        var supplier: String
        var originator: String?
        var license: String?
        var download: String
        var homepage: String?
        var purl: String
        var checksums: [String: String]
        var sources: [Source]
        var dependsOn: [String] = []   // package names
    }

    let pkgs: [Pkg]
    let sources: [(id: String, source: Source)]
    let sourceIDsByKey: [String: String]

    public init(_ input: ImageSBOMInput) throws {
        self.input = input
        var byName: [String: APKIndexRecord] = [:]
        for p in input.packages { byName[p.name] = p }
        var provides: [String: String] = [:]
        for p in input.packages.sorted(by: { $0.name < $1.name }) {
            for pr in p.provides {
                let n = ImageSBOM.depName(pr)
                if provides[n] == nil { provides[n] = p.name }
            }
        }
        var list: [Pkg] = []
        var srcKeys: [String: Source] = [:]
        for p in input.packages.sorted(by: { ($0.name, $0.version) < ($1.name, $1.version) }) {
            var pkg = Pkg(installed: p, spdxID: ImageSBOM.spdxID("Package-apk-\(p.name)-\(p.version)"),
                          supplier: "NOASSERTION", originator: nil, license: p.license.isEmpty ? nil : p.license,
                          download: "NOASSERTION", homepage: ImageSBOM.isURL(p.url) ? p.url : nil,
                          purl: APKPurl.make(name: p.name, version: p.version, arch: p.arch, distro: input.distro),
                          checksums: [:], sources: [])
            if let doc = input.packageSBOMs[p.nameVersion] { ImageSBOM.merge(doc, into: &pkg) }
            if let d = input.packageDigests[p.nameVersion] { pkg.checksums["SHA256"] = d }
            var deps = Set<String>()
            for d in p.depends where !d.hasPrefix("!") {
                let n = ImageSBOM.depName(d)
                if let target = byName[n]?.name ?? provides[n], target != p.name { deps.insert(target) }
            }
            pkg.dependsOn = deps.sorted()
            for s in pkg.sources { srcKeys[ImageSBOM.sourceKey(s)] = s }
            list.append(pkg)
        }
        pkgs = list
        var ids: [String: String] = [:]
        var srcs: [(String, Source)] = []
        var used = Set<String>()
        for (key, s) in srcKeys.sorted(by: { $0.key < $1.key }) {
            var id = ImageSBOM.spdxID("Source-\(s.name)" + (s.version.map { "-\($0)" } ?? ""))
            var n = 2
            while used.contains(id) { id = ImageSBOM.spdxID("Source-\(s.name)-\(n)"); n += 1 }
            used.insert(id); ids[key] = id; srcs.append((id, s))
        }
        sources = srcs
        sourceIDsByKey = ids
    }

    // MARK: helpers

    static func sourceKey(_ s: Source) -> String {
        s.download + "|" + s.checksums.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            + (s.download == "NOASSERTION" ? "|\(s.name)|\(s.version ?? "")" : "")
    }

    /// Dependency token without version constraint: `foo>=1.2` → `foo`, `so:libc.so.6=6` → `so:libc.so.6`.
    static func depName(_ d: String) -> String { DependencyAtom.parse(d)?.name ?? "" }

    /// An SPDX idstring: letters, digits, `.` and `-`.
    static func spdxID(_ s: String) -> String {
        "SPDXRef-" + String(s.unicodeScalars.map { c -> Character in
            (("0"..."9").contains(c) || ("a"..."z").contains(c) || ("A"..."Z").contains(c) || c == "." || c == "-") ? Character(c) : "-"
        })
    }

    static func isURL(_ s: String) -> Bool {
        (s.hasPrefix("https://") || s.hasPrefix("http://") || s.hasPrefix("ftp://")) && !s.contains(" ")
    }

    static func purlEscape(_ s: String) -> String { APKPurl.escape(s) }

    /// Takes name-level facts (supplier, licence, purl, download location, sources) from the package's own SBOM.
    static func merge(_ doc: JSON, into pkg: inout Pkg) {
        let packages = doc["packages"]?.array ?? []
        let described = Set((doc["documentDescribes"]?.array ?? []).compactMap(\.string)
            + (doc["relationships"]?.array ?? []).filter {
                $0["relationshipType"]?.string == "DESCRIBES" && $0["spdxElementId"]?.string == "SPDXRef-DOCUMENT"
            }.compactMap { $0["relatedSpdxElement"]?.string })
        let name = pkg.installed.name
        let main = packages.first { $0["name"]?.string == name && described.contains($0["SPDXID"]?.string ?? "") }
            ?? packages.first { $0["name"]?.string == name }
            ?? packages.first { described.contains($0["SPDXID"]?.string ?? "") }
        guard let main else { return }
        func usable(_ s: String?) -> String? { guard let s, !s.isEmpty else { return nil }; return s }
        if let s = usable(main["supplier"]?.string) { pkg.supplier = s }
        if let s = usable(main["originator"]?.string), s != "NOASSERTION" { pkg.originator = s }
        if let s = usable(main["licenseDeclared"]?.string) { pkg.license = s }
        if let s = usable(main["downloadLocation"]?.string) { pkg.download = s }
        if let s = usable(main["homepage"]?.string), isURL(s) { pkg.homepage = s }
        for r in main["externalRefs"]?.array ?? [] where r["referenceType"]?.string == "purl" {
            if let loc = usable(r["referenceLocator"]?.string) { pkg.purl = loc; break }
        }
        for c in main["checksums"]?.array ?? [] {
            if let a = c["algorithm"]?.string, let v = c["checksumValue"]?.string { pkg.checksums[a] = v.lowercased() }
        }
        let mainID = main["SPDXID"]?.string ?? ""
        var srcIDs: [String] = []
        for r in doc["relationships"]?.array ?? [] {
            let t = r["relationshipType"]?.string, a = r["spdxElementId"]?.string, b = r["relatedSpdxElement"]?.string
            if t == "GENERATED_FROM", a == mainID, let b { srcIDs.append(b) }
            if t == "GENERATES", b == mainID, let a { srcIDs.append(a) }
        }
        for id in srcIDs {
            guard let sp = packages.first(where: { $0["SPDXID"]?.string == id }) else { continue }
            var sums: [String: String] = [:]
            for c in sp["checksums"]?.array ?? [] {
                if let a = c["algorithm"]?.string, let v = c["checksumValue"]?.string { sums[a] = v.lowercased() }
            }
            pkg.sources.append(Source(name: sp["name"]?.string ?? "source", version: usable(sp["versionInfo"]?.string),
                                      download: usable(sp["downloadLocation"]?.string) ?? "NOASSERTION", checksums: sums))
        }
    }

    var imageHex: String { String(input.manifestDigest.dropFirst("sha256:".count)) }

    var imagePurl: String {
        let name = ImageSBOM.purlEscape((input.imageName.split(separator: "/").last.map(String.init) ?? input.imageName).lowercased())
        var q = [("arch", input.architecture)].filter { !$0.1.isEmpty }
        if let t = input.tag, !t.isEmpty { q.append(("tag", t)) }
        let qs = q.sorted { $0.0 < $1.0 }.map { "\($0.0)=\(ImageSBOM.purlEscape($0.1))" }.joined(separator: "&")
        return "pkg:oci/\(name)@sha256:\(imageHex)" + (qs.isEmpty ? "" : "?" + qs)
    }

    /// UUIDv5 (RFC 4122 name-based, SHA-1 used as an identifier only) in the URL namespace.
    static func uuidV5(_ name: String) throws -> String {
        let ns: [UInt8] = [0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8]
        var h = Array(try Digest.hash(.sha1, Data(ns) + Data(name.utf8)).prefix(16))
        h[6] = (h[6] & 0x0F) | 0x50
        h[8] = (h[8] & 0x3F) | 0x80
        let hex = h.hexString
        func part(_ a: Int, _ b: Int) -> Substring { hex.dropFirst(a).prefix(b - a) }
        return "\(part(0, 8))-\(part(8, 12))-\(part(12, 16))-\(part(16, 20))-\(part(20, 32))"
    }

    public func documentUUID() throws -> String { try ImageSBOM.uuidV5("kiln:image:\(input.manifestDigest)") }

    public var documentName: String { "sbom-\(input.imageName)-sha256-\(imageHex)" }

    public func documentNamespace() throws -> String {
        let safe = String(input.imageName.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." || $0 == "_" ? $0 : "-" })
        return "https://kiln.dev/spdxdocs/\(safe)-\(try documentUUID())"
    }

    // MARK: SPDX 2.3

    public func spdx() throws -> JSON {
        let created = SourceDateEpoch.rfc3339(input.created)
        let tool = "kiln-\(KilnVersion.current)"
        var packages: [JSON] = []
        var rels: [(String, String, String)] = [("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Image")]
        var imageComment = "OCI image \(input.imageName)"
        if let v = input.variant { imageComment += ", variant \(v)" }
        var image: [(String, JSON)] = [
            ("name", .string(input.imageName)), ("SPDXID", "SPDXRef-Image"), ("versionInfo", .string(input.manifestDigest)),
            ("supplier", "NOASSERTION"), ("downloadLocation", "NOASSERTION"), ("filesAnalyzed", false),
            ("checksums", [["algorithm": "SHA256", "checksumValue": .string(imageHex)]]),
            ("licenseConcluded", "NOASSERTION"), ("licenseDeclared", "NOASSERTION"), ("copyrightText", "NOASSERTION"),
            ("comment", .string(imageComment)),
            ("externalRefs", [["referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": .string(imagePurl)]]),
            ("primaryPackagePurpose", "CONTAINER"),
        ]
        if let f = input.fipsModule {
            image.append(("annotations", [["annotationDate": .string(created), "annotationType": "OTHER",
                                           "annotator": .string("Tool: \(tool)"), "comment": .string(f.statement)]]))
        }
        packages.append(.object(image))
        for p in pkgs {
            var o: [(String, JSON)] = [
                ("name", .string(p.installed.name)), ("SPDXID", .string(p.spdxID)), ("versionInfo", .string(p.installed.version)),
                ("supplier", .string(p.supplier)),
            ]
            if let orig = p.originator { o.append(("originator", .string(orig))) }
            o.append(("downloadLocation", .string(p.download)))
            o.append(("filesAnalyzed", false))
            if let h = p.homepage { o.append(("homepage", .string(h))) }
            if !p.checksums.isEmpty {
                o.append(("checksums", .array(p.checksums.sorted { $0.key < $1.key }.map {
                    ["algorithm": .string($0.key), "checksumValue": .string($0.value)]
                })))
            }
            o.append(("licenseConcluded", "NOASSERTION"))
            o.append(("licenseDeclared", .string(p.license ?? "NOASSERTION")))
            o.append(("copyrightText", "NOASSERTION"))
            if !p.installed.description.isEmpty { o.append(("summary", .string(p.installed.description))) }
            o.append(("externalRefs", [["referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": .string(p.purl)]]))
            o.append(("primaryPackagePurpose", "LIBRARY"))
            packages.append(.object(o))
            rels.append(("SPDXRef-Image", "CONTAINS", p.spdxID))
        }
        let idByName = Dictionary(pkgs.map { ($0.installed.name, $0.spdxID) }, uniquingKeysWith: { a, _ in a })
        for p in pkgs {
            for d in p.dependsOn { if let id = idByName[d] { rels.append((p.spdxID, "DEPENDS_ON", id)) } }
            for s in p.sources { if let id = sourceIDsByKey[ImageSBOM.sourceKey(s)] { rels.append((p.spdxID, "GENERATED_FROM", id)) } }
        }
        for (id, s) in sources {
            var o: [(String, JSON)] = [("name", .string(s.name)), ("SPDXID", .string(id))]
            if let v = s.version { o.append(("versionInfo", .string(v))) }
            o.append(("downloadLocation", .string(s.download)))
            o.append(("filesAnalyzed", false))
            if !s.checksums.isEmpty {
                o.append(("checksums", .array(s.checksums.sorted { $0.key < $1.key }.map {
                    ["algorithm": .string($0.key), "checksumValue": .string($0.value)]
                })))
            }
            o.append(("primaryPackagePurpose", "SOURCE"))
            packages.append(.object(o))
        }
        if let f = input.fipsModule {
            var o: [(String, JSON)] = [("name", .string(f.name)), ("SPDXID", "SPDXRef-FIPSModule"), ("versionInfo", .string(f.version)),
                                       ("downloadLocation", "NOASSERTION"), ("filesAnalyzed", false), ("comment", .string(f.statement))]
            o.append(("annotations", [["annotationDate": .string(created), "annotationType": "OTHER", "annotator": .string("Tool: \(tool)"),
                                      "comment": .string("kiln.fips.label=\(f.label.rawValue)" + (f.certificate.map { "; kiln.fips.cmvp=\($0)" } ?? ""))]]))
            o.append(("primaryPackagePurpose", "LIBRARY"))
            packages.append(.object(o))
            let container = f.providerPackage.flatMap { idByName[$0] } ?? "SPDXRef-Image"
            rels.append((container, "CONTAINS", "SPDXRef-FIPSModule"))
        }
        return .object([
            ("spdxVersion", "SPDX-2.3"), ("dataLicense", "CC0-1.0"), ("SPDXID", "SPDXRef-DOCUMENT"),
            ("name", .string(documentName)), ("documentNamespace", .string(try documentNamespace())),
            ("creationInfo", ["created": .string(created), "creators": [.string("Tool: \(tool)"), "Organization: kiln"]]),
            ("packages", .array(packages)),
            ("relationships", .array(rels.map { ["spdxElementId": .string($0.0), "relationshipType": .string($0.1), "relatedSpdxElement": .string($0.2)] })),
        ])
    }

    // MARK: CycloneDX 1.5

    static func cdxHashes(_ sums: [String: String]) -> [JSON] {
        let map = ["SHA1": "SHA-1", "SHA256": "SHA-256", "SHA384": "SHA-384", "SHA512": "SHA-512"]
        return sums.sorted { $0.key < $1.key }.compactMap { k, v in map[k].map { ["alg": .string($0), "content": .string(v)] } }
    }

    static func cdxEntity(_ spdx: String) -> JSON? {
        for prefix in ["Organization: ", "Person: "] where spdx.hasPrefix(prefix) {
            var name = String(spdx.dropFirst(prefix.count))
            if let i = name.range(of: " (") { name = String(name[..<i.lowerBound]) }
            return ["name": .string(name)]
        }
        return nil
    }

    public func cyclonedx() throws -> JSON {
        var components: [JSON] = []
        var deps: [JSON] = []
        let refByName = Dictionary(pkgs.map { ($0.installed.name, "apk:\($0.installed.name)@\($0.installed.version)") }, uniquingKeysWith: { a, _ in a })
        for p in pkgs {
            var o: [(String, JSON)] = [("type", "library"), ("bom-ref", .string(refByName[p.installed.name]!))]
            if let s = ImageSBOM.cdxEntity(p.supplier) { o.append(("supplier", s)) }
            o.append(("name", .string(p.installed.name)))
            o.append(("version", .string(p.installed.version)))
            if !p.installed.description.isEmpty { o.append(("description", .string(p.installed.description))) }
            let h = ImageSBOM.cdxHashes(p.checksums)
            if !h.isEmpty { o.append(("hashes", .array(h))) }
            if let l = p.license, l != "NOASSERTION", l != "NONE" { o.append(("licenses", [["expression": .string(l)]])) }
            o.append(("purl", .string(p.purl)))
            var refs: [JSON] = []
            for s in p.sources where s.download.contains("://") {
                var r: [(String, JSON)] = [("url", .string(s.download)), ("type", "distribution"), ("comment", "source")]
                let sh = ImageSBOM.cdxHashes(s.checksums)
                if !sh.isEmpty { r.append(("hashes", .array(sh))) }
                refs.append(.object(r))
            }
            if let hp = p.homepage, hp.contains("://") { refs.append(["url": .string(hp), "type": "website"]) }
            if !refs.isEmpty { o.append(("externalReferences", .array(refs))) }
            components.append(.object(o))
            deps.append(["ref": .string(refByName[p.installed.name]!), "dependsOn": .array(p.dependsOn.compactMap { refByName[$0].map(JSON.string) })])
        }
        if let f = input.fipsModule {
            var props: [JSON] = [["name": "kiln:fips:label", "value": .string(f.label.rawValue)]]
            if let c = f.certificate { props.append(["name": "kiln:fips:cmvp-certificate", "value": .string(c)]) }
            components.append(.object([("type", "library"), ("bom-ref", "fips-module"), ("name", .string(f.name)),
                                       ("version", .string(f.version)), ("description", .string(f.statement)),
                                       ("properties", .array(props))]))
        }
        var imageDeps = pkgs.map { JSON.string(refByName[$0.installed.name]!) }
        if input.fipsModule != nil { imageDeps.append("fips-module") }
        deps.insert(["ref": "image", "dependsOn": .array(imageDeps)], at: 0)
        var imageProps: [JSON] = []
        if let v = input.variant { imageProps.append(["name": "kiln:variant", "value": .string(v)]) }
        var imageComp: [(String, JSON)] = [("type", "container"), ("bom-ref", "image"), ("name", .string(input.imageName)),
                                           ("version", .string(input.manifestDigest)),
                                           ("hashes", [["alg": "SHA-256", "content": .string(imageHex)]]),
                                           ("purl", .string(imagePurl))]
        if !imageProps.isEmpty { imageComp.append(("properties", .array(imageProps))) }
        return .object([
            ("bomFormat", "CycloneDX"), ("specVersion", "1.5"),
            ("serialNumber", .string("urn:uuid:\(try documentUUID())")), ("version", 1),
            ("metadata", .object([
                ("timestamp", .string(SourceDateEpoch.rfc3339(input.created))),
                ("tools", ["components": [["type": "application", "name": "kiln", "version": .string(KilnVersion.current)]]]),
                ("component", .object(imageComp)),
            ])),
            ("components", .array(components)),
            ("dependencies", .array(deps)),
        ])
    }

    /// The apk packages (name, version) an SPDX image SBOM lists: packages with a `pkg:apk/` purl.
    public static func apkPackages(inSPDX doc: JSON) -> [(name: String, version: String)] {
        (doc["packages"]?.array ?? []).compactMap { p in
            let isAPK = (p["externalRefs"]?.array ?? []).contains {
                $0["referenceType"]?.string == "purl" && ($0["referenceLocator"]?.string ?? "").hasPrefix("pkg:apk/")
            }
            guard isAPK, let n = p["name"]?.string else { return nil }
            return (n, p["versionInfo"]?.string ?? "")
        }
    }
}
