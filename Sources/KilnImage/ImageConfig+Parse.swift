import Foundation
import KilnAPK
import KilnCore
import KilnFIPS
import Yams

/// The apko-dialect parser, one function per section, over KilnCore's `YAMLReader` (the reader
/// recipes use): explicit nulls are empty, a scalar is never a one-item list, a repeated key is an
/// error naming the first, and unknown keys are warnings (`unknown key `k` in SECTION (known: …)`).
extension ImageConfig {
    static let topKeys: Set<String> = ["include", "name", "version", "contents", "entrypoint", "cmd", "work-dir", "stop-signal",
                                       "vcs-url", "accounts", "environment", "annotations", "os-release", "volumes", "archs",
                                       "paths", "layering", "variants", "fips", "certificates"]
    static let contentsKeys: Set<String> = ["repositories", "runtime_repositories", "build_repositories", "keyring", "packages",
                                            "baseimage", "runtime_keyring"]
    static let entrypointKeys: Set<String> = ["type", "command", "shell-fragment", "services"]
    static let accountsKeys: Set<String> = ["run-as", "groups", "users"]
    static let groupKeys: Set<String> = ["groupname", "gid", "members"]
    static let userKeys: Set<String> = ["username", "uid", "gid", "shell", "homedir"]
    static let pathKeys: Set<String> = ["path", "type", "uid", "gid", "permissions", "source", "recursive"]
    static let layeringKeys: Set<String> = ["strategy", "budget"]

    /// Parses the text of the config at `file` (`seen`: the include chain above it, for cycles).
    public static func parse(_ text: String, file: String, seen: [String] = [], includePaths: [String] = []) throws -> ImageConfig {
        let r = YAMLReader(file: file, unknownKeys: .warn)
        let root = try r.root(text, expected: "an image config (a mapping with `contents:`)")
        var cfg = ImageConfig(file: file)
        var base: ImageConfig?
        try r.fields(root, "image config", known: topKeys) { key, value in
            switch key {
            case "include":
                let inc = try r.string(value, key)
                let (found, tried) = resolveInclude(inc, configFile: file, includePaths: includePaths)
                guard let incPath = found else {
                    throw ConfigError(r.location(value), "included file \(inc) not found (looked at \(tried.joined(separator: ", ")))")
                }
                base = try load(path: incPath, seen: seen, includePaths: includePaths)
            case "name":
                cfg.name = try r.string(value, key)
                try checkImageName(cfg.name!, at: r.location(value))
            case "version":
                cfg.version = try r.string(value, key)
                try checkTag(cfg.version!, at: r.location(value))
            case "contents": try parseContents(value, r, into: &cfg)
            case "entrypoint": cfg.entrypoint = try parseEntrypoint(value, r)
            case "cmd": cfg.cmd = try r.string(value, key)
            case "work-dir": cfg.workDir = try r.string(value, key)
            case "stop-signal": cfg.stopSignal = try r.string(value, key)
            case "vcs-url": cfg.vcsURL = try r.string(value, key)
            case "accounts": try parseAccounts(value, r, into: &cfg)
            case "environment": cfg.environment = try stringDictionary(value, r, key)
            case "annotations": cfg.annotations = try stringDictionary(value, r, key)
            case "os-release": cfg.osRelease = try stringDictionary(value, r, key)
            case "volumes": cfg.volumes += try r.strings(value, key)
            case "archs":
                for (a, n) in try r.stringNodes(value, key) {
                    let norm = a == "amd64" ? "x86_64" : a
                    guard norm == "x86_64" else {
                        throw ConfigError(r.location(n), "architecture '\(a)' cannot be built here: kiln builds x86_64 images only; remove it from archs")
                    }
                    if !cfg.archs.contains(norm) { cfg.archs.append(norm) }
                }
            case "paths":
                cfg.paths = try r.sequence(value, key).enumerated().map { try parsePath($0.element, r, "paths[\($0.offset)]") }
            case "layering": cfg.layering = try parseLayering(value, r)
            case "variants": try parseVariants(value, r, into: &cfg)
            case "fips":
                for e in try r.entries(value, "fips") {
                    guard e.key == "allow" else {
                        throw ConfigError(r.location(e.keyNode), "unknown key 'fips.\(e.key)' (fips has only allow: [{path, finding, reason}])")
                    }
                    cfg.fipsAllow += try FIPSAllowance.parseList(e.value, what: "fips.allow", reader: r)
                }
            default: cfg.certificates = try parseCertificates(value, r)
            }
        }
        cfg.warnings = r.warnings.map { "\($0.location): \($0.message)" }
        if let base { cfg = merge(base: base, over: cfg) }
        if cfg.archs.isEmpty { cfg.archs = ["x86_64"] }
        return cfg
    }

    /// A string → string mapping (`environment`, `annotations`, `os-release`).
    static func stringDictionary(_ v: Node, _ r: YAMLReader, _ what: String) throws -> [String: String] {
        Dictionary(try r.stringMap(v, what).map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    static func parseContents(_ value: Node, _ r: YAMLReader, into cfg: inout ImageConfig) throws {
        let dir = URL(fileURLWithPath: cfg.file).deletingLastPathComponent().path
        func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : dir + "/" + p }
        var c = cfg
        try r.fields(value, "contents", known: contentsKeys) { k, v in
            switch k {
            case "repositories", "runtime_repositories", "build_repositories":
                for (s, n) in try r.stringNodes(v, "contents.\(k)") {
                    var t = s
                    if t.hasPrefix("@"), let sp = t.firstIndex(of: " ") { t = String(t[t.index(after: sp)...]).trimmingCharacters(in: .whitespaces) }
                    var local: String?
                    if t.hasPrefix("file://") { local = String(t.dropFirst(7)) }
                    else if !t.contains("://") { local = resolve(t) }
                    if k == "runtime_repositories" { local = nil }
                    c.repositories.append(Repo(text: s, path: local, location: r.location(n)))
                }
            case "keyring":
                for (s, n) in try r.stringNodes(v, "contents.keyring") {
                    if s.contains("://") && !s.hasPrefix("file://") {
                        throw ConfigError(r.location(n), "keyring entry \(s) is a URL; kiln works offline — use a local public key file")
                    }
                    c.keyring.append(resolve(s.hasPrefix("file://") ? String(s.dropFirst(7)) : s))
                }
            case "packages": c.packages += try parsePackages(v, r, "contents.packages")
            case "baseimage":
                throw ConfigError(r.location(v), "contents.baseimage is not supported by kiln; list the packages instead")
            default:   // runtime_keyring
                c.runtimeKeyring += try parseRuntimeKeyring(v, r, resolve: resolve)
            }
        }
        cfg = c
    }

    static func parseEntrypoint(_ value: Node, _ r: YAMLReader) throws -> Entrypoint {
        var e = Entrypoint()
        try r.fields(value, "entrypoint", known: entrypointKeys) { k, v in
            switch k {
            case "type": e.type = try r.string(v, "entrypoint.type")
            case "command": e.command = try r.string(v, "entrypoint.command")
            case "shell-fragment": e.shellFragment = try r.string(v, "entrypoint.shell-fragment")
            default: throw ConfigError(r.location(v), "entrypoint.services (service bundles) are not supported; use command")
            }
        }
        if let t = e.type, t != "", t != "command" {
            throw ConfigError(r.location(value), "entrypoint type '\(t)' is not supported; kiln supports plain commands")
        }
        return e
    }

    static func parseAccounts(_ value: Node, _ r: YAMLReader, into cfg: inout ImageConfig) throws {
        var c = cfg
        try r.fields(value, "accounts", known: accountsKeys) { k, v in
            switch k {
            case "run-as": c.runAs = try r.string(v, "accounts.run-as")
            case "groups":
                for (i, g) in try r.sequence(v, "accounts.groups").enumerated() {
                    let what = "accounts.groups[\(i)]"
                    var name: String?, gid: Int?, members: [String] = []
                    try r.fields(g, what, known: groupKeys) { gk, gv in
                        switch gk {
                        case "groupname": name = try r.string(gv, "\(what).groupname")
                        case "gid": gid = try r.int(gv, "\(what).gid")
                        default: members = try r.strings(gv, "\(what).members")
                        }
                    }
                    guard let name, let gid else { throw ConfigError(r.location(g), "a group needs groupname and gid") }
                    c.groups.append(Group(name: name, gid: gid, members: members))
                }
            default:   // users
                for (i, u) in try r.sequence(v, "accounts.users").enumerated() {
                    let what = "accounts.users[\(i)]"
                    var name: String?, uid: Int?, user = User(name: "", uid: 0)
                    try r.fields(u, what, known: userKeys) { uk, uv in
                        switch uk {
                        case "username": name = try r.string(uv, "\(what).username")
                        case "uid": uid = try r.int(uv, "\(what).uid")
                        case "gid": user.gid = try r.int(uv, "\(what).gid")
                        case "shell": user.shell = try r.string(uv, "\(what).shell")
                        default: user.homedir = try r.string(uv, "\(what).homedir")
                        }
                    }
                    guard let name, let uid else { throw ConfigError(r.location(u), "a user needs username and uid") }
                    user.name = name; user.uid = uid
                    c.users.append(user)
                }
            }
        }
        cfg = c
    }

    static func parsePath(_ p: Node, _ r: YAMLReader, _ what: String) throws -> PathEntry {
        var path: String?, kind: PathEntry.Kind?
        var e = PathEntry(path: "", kind: .directory, recursive: false, location: r.location(p))
        try r.fields(p, what, known: pathKeys) { pk, pv in
            switch pk {
            case "path": path = try r.string(pv, "\(what).path")
            case "type":
                let t = try r.string(pv, "\(what).type")
                guard let k = PathEntry.Kind(rawValue: t) else {
                    throw ConfigError(r.location(pv), "unknown path type '\(t)'; use directory, empty-file, symlink, hardlink or permissions")
                }
                kind = k
            case "uid": e.uid = try r.int(pv, "\(what).uid")
            case "gid": e.gid = try r.int(pv, "\(what).gid")
            case "permissions": e.permissions = try r.octal(pv, "\(what).permissions")
            case "source": e.source = try r.string(pv, "\(what).source")
            default: e.recursive = try r.bool(pv, "\(what).recursive")
            }
        }
        guard let path, let kind else { throw ConfigError(r.location(p), "a paths entry needs path and type") }
        if (kind == .symlink || kind == .hardlink) && e.source == nil {
            throw ConfigError(r.location(p), "a \(kind.rawValue) path needs source")
        }
        e.path = path; e.kind = kind
        return e
    }

    static func parseLayering(_ value: Node, _ r: YAMLReader) throws -> Layering {
        var strategy = "origin", budget = 10
        try r.fields(value, "layering", known: layeringKeys) { k, v in
            if k == "strategy" {
                strategy = try r.string(v, "layering.strategy")
                guard strategy == "origin" else {
                    throw ConfigError(r.location(v), "layering strategy '\(strategy)' is unknown; kiln supports 'origin'")
                }
            } else {
                budget = try r.int(v, "layering.budget")
                guard budget >= 1 && budget <= 127 else {
                    throw ConfigError(r.location(v), "layering budget must be between 1 and 127")
                }
            }
        }
        return Layering(strategy: strategy, budget: budget)
    }

    static func parseVariants(_ value: Node, _ r: YAMLReader, into cfg: inout ImageConfig) throws {
        for e in try r.entries(value, "variants") {
            guard e.key == "standard" || e.key == "fips" else {
                throw ConfigError(r.location(e.keyNode), "unknown variant '\(e.key)'; variants are standard and fips")
            }
            var packages: [Package] = []
            try r.fields(e.value, "variants.\(e.key)", known: ["packages"]) { _, v in
                packages += try parsePackages(v, r, "variants.\(e.key).packages")
            }
            cfg.variantPackages[e.key, default: []] += packages
        }
    }

    /// A package list; null is none, a scalar is refused with the two ways to write a list.
    static func parsePackages(_ v: Node, _ r: YAMLReader, _ what: String) throws -> [Package] {
        if r.isNull(v) { return [] }
        guard case .sequence = v else {
            throw ConfigError(r.location(v), "packages must be a list (`packages: [name, ...]` or one `- name` per line)")
        }
        return try r.stringNodes(v, what).map { s, n in
            guard let d = APKDependency.parse(s) else {
                throw ConfigError(r.location(n), "malformed package '\(s)'; write name, name=1.2-r0, name>=1.2, name<2 or name~1.2")
            }
            return Package(dependency: d, location: r.location(n))
        }
    }
}
