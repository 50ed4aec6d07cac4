import Foundation
import KilnCore

/// The configuration check: the effective openssl.cnf (`OPENSSL_CONF` from the image config, else
/// `<OPENSSLDIR>/openssl.cnf` with OPENSSLDIR read from the image's libcrypto) includes
/// fipsmodule.cnf, activates `fips` and `base`, does not activate `default`, and sets
/// `default_properties = fips=yes`; `LD_PRELOAD`, `LD_LIBRARY_PATH` and `OPENSSL_MODULES` are
/// findings unless they point at the FIPS package.
struct ConfigCheck {
    let root: ImageRoot
    /// Image path of the libcrypto the loader resolves (for OPENSSLDIR / MODULESDIR).
    let libcrypto: String?
    /// Image path of fips.so (module directory check).
    let module: String?
    /// ELFs named `node` that link libcrypto.so.3 (node reads `nodejs_conf`, not `openssl_conf`).
    var sharedOpenSSLNodes: [ImageELF] = []

    /// `OPENSSLDIR: "…"` / `MODULESDIR: "…"` as compiled into libcrypto.
    static func compiledDirectory(_ key: String, in data: Data) -> String? {
        guard let o = ByteSearch.first("\(key): \"", in: data) else { return nil }
        let s = ByteSearch.printable(data, at: o + key.count + 3, max: 4096)
        return s.firstIndex(of: "\"").map { String(s[..<$0]) }
    }

    func run() -> (findings: [AuditFinding], includedModuleConfig: String?, summary: String) {
        var f: [AuditFinding] = []
        let env = root.environment
        let cryptoData = libcrypto.flatMap { root.data($0) }
        let openssldir = cryptoData.flatMap { ConfigCheck.compiledDirectory("OPENSSLDIR", in: $0) }
        let modulesdir = cryptoData.flatMap { ConfigCheck.compiledDirectory("MODULESDIR", in: $0) }

        // Environment that steers the loader or OpenSSL.
        let providerPkg = module.flatMap { root.owner($0) }
        for key in ["LD_PRELOAD", "LD_LIBRARY_PATH"] {
            guard let v = env[key], !v.isEmpty else { continue }
            let entries = v.split(whereSeparator: { $0 == ":" || $0 == " " }).map(String.init)
            let fipsOnly = providerPkg != nil && entries.allSatisfy { e in
                root.owners.contains { $0.value == providerPkg && ($0.key == ImageRoot.join("", e) || $0.key.hasPrefix(ImageRoot.join("", e) + "/")) }
            }
            if !fipsOnly {
                f.append(AuditFinding(key == "LD_PRELOAD" ? "env-ld-preload" : "env-ld-library-path", .configuration, path: "",
                                      message: "the image config sets \(key)=\(v): code outside the audited linkage is loaded first",
                                      evidence: AuditEvidence(symbol: "Env", string: "\(key)=\(v)"),
                                      advice: "remove \(key) from the image environment (fix RUNPATH or install the library in a default directory)"))
            }
        }
        if let v = env["OPENSSL_MODULES"] {
            let dir = ImageRoot.join("", v)
            if module == nil || ImageRoot.dirname(module!) != root.resolve(dir) ?? dir {
                f.append(AuditFinding("env-openssl-modules", .configuration, path: "", message: "OPENSSL_MODULES=\(v) does not name the FIPS provider's directory",
                                      evidence: AuditEvidence(symbol: "Env", string: "OPENSSL_MODULES=\(v)"),
                                      advice: "drop OPENSSL_MODULES or point it at the directory holding the provider package's fips.so"))
            }
        } else if let module, let modulesdir, ImageRoot.dirname(module) != (root.resolve(modulesdir) ?? ImageRoot.join("", modulesdir)) {
            f.append(AuditFinding("module-not-in-modulesdir", .configuration, path: module, message: "fips.so is not in libcrypto's MODULESDIR \(modulesdir): OpenSSL will not find it",
                                  evidence: AuditEvidence(symbol: "MODULESDIR", string: modulesdir),
                                  advice: "install fips.so into \(modulesdir) (or use an OpenSSL built with that MODULESDIR)"))
        }

        // The effective openssl.cnf.
        let cnfPath: String
        let source: String
        if let c = env["OPENSSL_CONF"] { cnfPath = ImageRoot.join("", c); source = "OPENSSL_CONF" } else if let d = openssldir {
            cnfPath = ImageRoot.join(d, "openssl.cnf"); source = "OPENSSLDIR \(d)"
        } else {
            f.append(AuditFinding("config-missing", .configuration, path: libcrypto ?? "", message: "no OPENSSL_CONF and no OPENSSLDIR in the image's libcrypto: the effective configuration is unknown",
                                  advice: "set OPENSSL_CONF in the image config or use a libcrypto with a compiled-in OPENSSLDIR"))
            return (f, nil, "effective openssl.cnf unknown")
        }
        guard let data = root.data(cnfPath) else {
            f.append(AuditFinding("config-missing", .configuration, path: cnfPath, message: "the effective openssl.cnf (from \(source)) is not in the image: OpenSSL runs with its built-in defaults (default provider)",
                                  advice: "install the FIPS configuration package (\(FIPSPackageName.config))"))
            return (f, nil, "/\(cnfPath) missing")
        }
        var conf = OpenSSLConfig.parse(String(decoding: data, as: UTF8.self))
        var included: String?
        var seen: Set<String> = [cnfPath]
        var queue = conf.includes
        while !queue.isEmpty {
            let inc = ImageRoot.join(ImageRoot.dirname(cnfPath), queue.removeFirst())
            guard let r = root.resolve(inc), seen.insert(r).inserted, seen.count < 64 else { continue }
            if root.directories.contains(r) {
                for p in root.contents.files.keys.sorted() where ImageRoot.dirname(p) == r && (p.hasSuffix(".cnf") || p.hasSuffix(".conf")) {
                    queue.append("/" + p)
                }
                continue
            }
            guard let d = root.data(r) else { continue }
            if ImageRoot.basename(r) == "fipsmodule.cnf" { included = r }
            let before = conf.includes.count
            conf = OpenSSLConfig.parse(String(decoding: d, as: UTF8.self), into: conf)
            queue.append(contentsOf: conf.includes[before...])
        }
        let at = cnfPath
        func finding(_ id: String, _ msg: String, _ ev: AuditEvidence = AuditEvidence(), _ advice: String) {
            f.append(AuditFinding(id, .configuration, path: at, package: root.owner(at), message: msg, evidence: ev, advice: advice))
        }
        let fix = "install \(FIPSPackageName.config) (its openssl.cnf includes fipsmodule.cnf, activates fips + base, sets default_properties = fips=yes)"
        if included == nil {
            finding("config-no-include", "/\(at) does not include a fipsmodule.cnf present in the image", AuditEvidence(symbol: ".include", string: conf.includes.first), fix)
        }
        let initName = conf.sections["default"]?["openssl_conf"]
        let initSect = initName.flatMap { conf.sections[$0] }
        let providersName = initSect?["providers"]
        let providers = providersName.flatMap { conf.sections[$0] } ?? [:]
        func active(_ name: String) -> Bool {
            guard let sect = providers[name].flatMap({ conf.sections[$0] }) else { return false }
            return OpenSSLConfig.isOn(sect["activate"])
        }
        if !active("fips") {
            finding("config-fips-not-activated", "the fips provider is not activated (\(providersName.map { "[\($0)]" } ?? "no providers section")\(providers["fips"].map { " → [\($0)]" } ?? " has no fips entry"))",
                    AuditEvidence(symbol: providersName ?? "openssl_conf"), fix)
        }
        if !providers.isEmpty && !active("base") {
            finding("config-base-not-activated", "the base provider is not activated: keys cannot be encoded or decoded", AuditEvidence(symbol: providersName), fix)
        }
        if providers.isEmpty || active("default") {
            finding("config-default-activated", providers.isEmpty ? "no providers section: OpenSSL loads the default (non-FIPS) provider" : "the default (non-FIPS) provider is activated",
                    AuditEvidence(symbol: providersName ?? "openssl_conf", string: providers["default"]), "remove `default` from [\(providersName ?? "provider_sect")] — " + fix)
        }
        let algName = initSect?["alg_section"]
        let props = algName.flatMap { conf.sections[$0]?["default_properties"] } ?? ""
        let propList = props.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: " ", with: "") }
        if !propList.contains("fips=yes") && !propList.contains("fips") {
            finding("config-no-fips-properties", "default_properties does not contain fips=yes: non-approved implementations can be fetched",
                    AuditEvidence(symbol: algName ?? "alg_section", string: props.isEmpty ? nil : props), fix)
        }
        // node built --shared-openssl reads the `nodejs_conf` section unless run with --openssl-shared-config.
        if let initName, conf.sections["default"]?["nodejs_conf"] != initName {
            for n in sharedOpenSSLNodes {
                f.append(AuditFinding("node-config-bypass", .configuration, path: n.path, package: n.owner,
                                      message: "node reads the `nodejs_conf` section of /\(at), which does not name [\(initName)]: the FIPS providers are not set up for it",
                                      evidence: AuditEvidence(symbol: "nodejs_conf", string: conf.sections["default"]?["nodejs_conf"]),
                                      advice: "add `nodejs_conf = \(initName)` to openssl.cnf (or run node with --openssl-shared-config)"))
            }
        }
        let bad = f.contains { $0.check == .configuration }
        return (f, included, "/\(cnfPath) (\(source))\(bad ? "" : ": includes /\(included ?? "?"), fips + base active, default not, fips=yes")")
    }
}
