import Foundation
import KilnCore
import KilnCrypto
import KilnFIPS

/// The module check: exactly one `fips.so`; its `module-mac` (and for 3.0.x `install-mac`)
/// recomputed with OpenSSL's fixed integrity key through kiln's EVP HMAC — the module is never
/// loaded; its name and version strings and its package's source digest against the registry.
struct ModuleCheck {
    /// OpenSSL's default FIPS integrity key (`Configure`: sha256 of "holy hand grenade of antioch").
    static let fixedKey: [UInt8] = hexBytes("f4556650ac31d35461610bac4ed81b1a181b2d8a43ea2854cbae22ca74560813")
    /// What a 3.0.x `fipsinstall` MACs for `install-mac`.
    static let installStatus = "INSTALL_SELF_TEST_KATS_RUN"

    let root: ImageRoot
    let registry: FIPSModuleRegistry?
    /// The fipsmodule.cnf the effective configuration includes (preferred over any other).
    let includedModuleConfig: String?

    static func hexBytes(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var it = s.makeIterator()
        while let a = it.next(), let b = it.next() { if let v = UInt8(String([a, b]), radix: 16) { out.append(v) } }
        return out
    }

    /// `5E:DB:…` (fipsmodule.cnf's spelling).
    static func colonHex(_ b: [UInt8]) -> String { b.map { String(format: "%02X", $0) }.joined(separator: ":") }

    func run() throws -> (findings: [AuditFinding], module: AuditModule?, summary: String) {
        var findings: [AuditFinding] = []
        let modules = root.regularFiles.filter { ImageRoot.basename($0.path) == "fips.so" }
        guard let so = modules.first else {
            findings.append(AuditFinding("module-missing", .module, path: "", message: "the image has no FIPS provider module (fips.so)",
                                         advice: "install the FIPS provider package (\(FIPSPackageName.provider)) — build the image's fips variant"))
            return (findings, nil, "no fips.so in the image")
        }
        for extra in modules.dropFirst() {
            findings.append(AuditFinding("module-duplicate", .module, path: extra.path, package: root.owner(extra.path),
                                         message: "a second fips.so (the first is /\(so.path)); which one OpenSSL loads depends on OPENSSL_MODULES",
                                         advice: "keep exactly one FIPS provider module in the image"))
        }
        let owner = root.owner(so.path)
        if owner.map({ !$0.hasPrefix(FIPSPackageName.provider) }) ?? true {
            findings.append(AuditFinding("module-owner", .module, path: so.path, package: owner,
                                         message: "fips.so is \(owner.map { "owned by \($0)" } ?? "not owned by any installed package"), not by \(FIPSPackageName.provider)",
                                         advice: "install the module only through the FIPS provider package"))
        }
        let mac = try HMAC.mac(.sha256, key: ModuleCheck.fixedKey, data: so.data)
        let macText = ModuleCheck.colonHex(mac)

        // Identity: the package's stamped fips-module.json, confirmed by the module's own strings.
        let identity = root.data(FIPSModuleIdentity.packagePath).flatMap { try? FIPSModuleIdentity.decode($0, source: FIPSModuleIdentity.packagePath) }
        let nameInModule = ["OpenSSL FIPS Provider", "Chainguard FIPS Provider for OpenSSL"].first { ByteSearch.first($0 + "\u{0}", in: so.data) != nil }
        var version = identity?.version ?? ""
        if let dash = version.range(of: "-r") { version = String(version[..<dash.lowerBound]) }
        if version.isEmpty || ByteSearch.first("\u{0}" + version + "\u{0}", in: so.data) == nil {
            // Fall back to the first NUL-delimited "3.x.y" string in the module.
            version = ModuleCheck.firstVersionString(so.data) ?? version
        }
        if nameInModule == nil {
            findings.append(AuditFinding("module-identity", .module, path: so.path, package: owner,
                                         message: "fips.so carries no known provider name string (\"OpenSSL FIPS Provider\")",
                                         advice: "use OpenSSL's FIPS provider built from a listed source"))
        }
        var label = FIPSLabel.fipsCapable.rawValue
        var cert: String?
        if let identity, let registry {
            let listed = registry.modules.first { $0.sha256 == identity.source.sha256 }
            if let listed, listed.version != version, !version.isEmpty {
                findings.append(AuditFinding("module-identity", .module, path: so.path, package: owner,
                                             message: "the package claims source \(listed.name) \(listed.version) but the module reports \(version)",
                                             evidence: AuditEvidence(string: version), advice: "rebuild the provider from exactly the listed source"))
            } else if identity.label == .validated, let listed, listed.status == "active" {
                label = FIPSLabel.validated.rawValue
                cert = listed.certificate
            }
            if cert == nil { cert = identity.certificate?.number }
        }

        // module-mac / install-mac from fipsmodule.cnf.
        let cnfs = root.regularFiles.filter { ImageRoot.basename($0.path) == "fipsmodule.cnf" }
        let chosen = cnfs.first { $0.path == includedModuleConfig } ?? cnfs.first
        if let cnf = chosen {
            let conf = OpenSSLConfig.parse(String(decoding: cnf.data, as: UTF8.self))
            let sect = conf.sections.first { $0.value["module-mac"] != nil }
            if let written = sect?.value["module-mac"] {
                if written.uppercased() != macText {
                    findings.append(AuditFinding("module-mac-mismatch", .module, path: so.path, package: owner,
                                                 message: "HMAC-SHA256 of fips.so is \(macText.prefix(23))…, /\(cnf.path) says \(written.prefix(23))…: the module was changed after fipsinstall and will not activate",
                                                 evidence: AuditEvidence(symbol: "module-mac", string: written),
                                                 advice: "reinstall the FIPS provider package unmodified (its fipsmodule.cnf and fips.so come from one fipsinstall)"))
                }
                if version.hasPrefix("3.0.") {
                    let want = ModuleCheck.colonHex(try HMAC.mac(.sha256, key: ModuleCheck.fixedKey, data: Data(ModuleCheck.installStatus.utf8)))
                    let im = sect?.value["install-mac"], st = sect?.value["install-status"]
                    if im?.uppercased() != want || st != ModuleCheck.installStatus {
                        findings.append(AuditFinding("install-mac-mismatch", .module, path: cnf.path, package: root.owner(cnf.path),
                                                     message: "a 3.0.x module needs install-status = \(ModuleCheck.installStatus) and its install-mac; found \(st ?? "no install-status"), \(im.map { String($0.prefix(23)) + "…" } ?? "no install-mac")",
                                                     evidence: AuditEvidence(symbol: "install-mac", string: im),
                                                     advice: "run `openssl fipsinstall` (3.0.x writes install-mac) when packaging the provider"))
                    }
                }
            } else {
                findings.append(AuditFinding("module-mac-missing", .module, path: cnf.path, package: root.owner(cnf.path),
                                             message: "fipsmodule.cnf has no module-mac", advice: "regenerate it with `openssl fipsinstall`"))
            }
        } else {
            findings.append(AuditFinding("module-mac-missing", .module, path: so.path, package: owner,
                                         message: "no fipsmodule.cnf in the image: the provider cannot be verified or activated",
                                         advice: "install the provider package's fipsmodule.cnf (made by `openssl fipsinstall`)"))
        }
        let module = AuditModule(path: so.path, name: nameInModule ?? identity?.name ?? "unknown", version: version,
                                 label: label, certificate: cert, package: owner, moduleMAC: macText)
        let macOK = !findings.contains { $0.id == "module-mac-mismatch" || $0.id == "module-mac-missing" }
        return (findings, module, "/\(so.path) \(module.name) \(version) \(label)\(cert.map { " (CMVP #\($0))" } ?? ""), module-mac \(macOK ? "recomputed and matches" : "does NOT match")")
    }

    /// The first NUL-delimited `3.<d>.<d>` string in `data`.
    static func firstVersionString(_ data: Data) -> String? {
        var from = 0
        while let o = ByteSearch.first([0, 0x33, 0x2e], in: data, from: from) {
            let s = ByteSearch.printable(data, at: o + 1, max: 12)
            let parts = s.split(separator: ".")
            if parts.count == 3, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }),
               o + 1 + s.utf8.count < data.count, data[data.startIndex + o + 1 + s.utf8.count] == 0 { return s }
            from = o + 1
        }
        return nil
    }
}
