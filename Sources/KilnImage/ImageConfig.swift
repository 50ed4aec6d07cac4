import Foundation
import KilnAPK
import KilnCore
import KilnFIPS
import KilnRecipe
import Yams

/// An error in an image config; names file:line:col.
public struct ConfigError: KilnError {
    public var location: SourceLocation
    public var message: String
    public init(_ location: SourceLocation, _ message: String) { self.location = location; self.message = message }
    public var description: String { "\(location): \(message)" }
}

/// An image config in apko's dialect (field names as apko spells them), plus kiln's additions:
/// `name`, `version` (the tag `<name>:<version>`), `variants` (extra packages per variant) and
/// `os-release`. See README "Image configs".
public struct ImageConfig {
    public struct Package: Sendable { public var dependency: APKDependency; public var location: SourceLocation }
    public struct Entrypoint: Sendable { public var type: String?; public var command: String?; public var shellFragment: String? }
    public struct Group: Sendable { public var name: String; public var gid: Int; public var members: [String] }
    public struct User: Sendable {
        public var name: String; public var uid: Int; public var gid: Int?
        public var shell: String?; public var homedir: String?
    }
    public struct PathEntry: Sendable {
        public enum Kind: String, Sendable { case directory, emptyFile = "empty-file", symlink, hardlink, permissions }
        public var path: String; public var kind: Kind
        public var uid: Int?; public var gid: Int?; public var permissions: UInt32?
        public var source: String?; public var recursive: Bool
        public var location: SourceLocation
    }
    public struct Layering: Sendable { public var strategy: String; public var budget: Int }
    public struct Repo: Sendable {
        public var text: String         // as written (goes into etc/apk/repositories)
        public var path: String?        // resolved local directory
        public var location: SourceLocation
    }

    public var file: String
    public var name: String?
    public var version: String?
    public var repositories: [Repo] = []
    public var keyring: [String] = []           // resolved paths
    public var packages: [Package] = []
    public var entrypoint: Entrypoint?
    public var cmd: String?
    public var workDir: String?
    public var stopSignal: String?
    public var groups: [Group] = []
    public var users: [User] = []
    public var runAs: String?
    public var environment: [String: String] = [:]
    public var annotations: [String: String] = [:]
    public var paths: [PathEntry] = []
    public var archs: [String] = []
    public var layering: Layering?
    public var variantPackages: [String: [Package]] = [:]
    public var vcsURL: String?
    public var osRelease: [String: String] = [:]
    public var volumes: [String] = []
    /// `certificates.additional`: installed as usr/local/share/ca-certificates/NAME-SHA256.crt and
    /// appended to etc/ssl/certs/ca-certificates.crt when the image has that bundle (as apko does).
    public var certificates: [Certificate] = []
    /// `contents.runtime_keyring`: public keys installed into etc/apk/keys for `apk add` at run time
    /// (not trusted for the image's own packages), as apko does.
    public var runtimeKeyring: [RuntimeKey] = []
    /// kiln's own `fips: {allow: [{path, finding, reason}]}`: boundary-audit findings this image
    /// accepts, each with its reason (carried in the manifest annotation `dev.kiln.fips.allow`;
    /// `kiln audit` prints them as allowed, never hides them).
    public var fipsAllow: [FIPSAllowance] = []
    public var warnings: [String] = []
    /// Every file `load` read: this config first, then its `include`s (depth first). The nightly
    /// hashes them all into the image node's key.
    public var sourceFiles: [String] = []

    public init(file: String) { self.file = file }

    /// The image name: `name:` or the config file name without extension.
    public var imageName: String {
        name ?? URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
    }

    /// Loads `path`, following `include`s (the included file is the base; this file's values win,
    /// lists are appended). Unknown keys become warnings; errors name file:line:col.
    /// `includePaths`: where `include:` is looked for after the working directory and the config's
    /// own directory (apko's include paths).
    public static func load(path: String, includePaths: [String] = []) throws -> ImageConfig {
        let cfg = try load(path: path, seen: [], includePaths: includePaths)
        if cfg.name == nil { try checkImageName(cfg.imageName, at: SourceLocation(file: path)) }
        return cfg
    }

    /// The image name becomes a directory (`out/images/<name>`) and the tag's repository, so it must
    /// be one safe path component: ASCII letters, digits and `. _ -`, starting with a letter or digit.
    public static func checkImageName(_ name: String, at location: SourceLocation) throws {
        guard isSafeComponent(name, first: { $0.isLetter || $0.isNumber }) else {
            throw ConfigError(location, "name: `\(name)` is not a valid image name (letters, digits and . _ - only, "
                                  + "starting with a letter or digit, at most 128 characters — no `/` or `..`)")
        }
    }

    /// The version is the image tag (OCI: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`).
    public static func checkTag(_ version: String, at location: SourceLocation) throws {
        guard isSafeComponent(version, first: { $0.isLetter || $0.isNumber || $0 == "_" }) else {
            throw ConfigError(location, "version: `\(version)` is not a valid image tag (letters, digits and . _ - only, "
                                  + "not starting with `.` or `-`, at most 128 characters)")
        }
    }

    static func isSafeComponent(_ s: String, first: (Character) -> Bool) -> Bool {
        guard let c = s.first, c.isASCII, first(c), s.count <= 128 else { return false }
        return s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
    }

    static func load(path: String, seen: [String], includePaths: [String] = []) throws -> ImageConfig {
        let abs = URL(fileURLWithPath: path).standardizedFileURL.path
        if seen.contains(abs) {
            throw ConfigError(SourceLocation(file: path), "include cycle: \((seen + [abs]).joined(separator: " → "))")
        }
        let read: Data?
        do { read = try YAMLLimits.readFile(path) } catch let e as RecipeError { throw ConfigError(e.location, e.message) }
        guard let data = read else {
            throw ConfigError(SourceLocation(file: path), "cannot read image config (does the file exist?)")
        }
        let text = String(decoding: data, as: UTF8.self)
        var cfg = try parse(text, file: path, seen: seen + [abs], includePaths: includePaths)
        cfg.sourceFiles.insert(path, at: 0)
        return cfg
    }

    public static func parse(_ text: String, file: String, seen: [String] = [], includePaths: [String] = []) throws -> ImageConfig {
        do { try YAMLLimits.standard.check(text, file: file) } catch let e as RecipeError {
            throw ConfigError(e.location, e.message)
        }
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch let e as YamlError {
            throw ConfigError(YAMLDiagnostics.location(of: e, file: file), "invalid YAML: \(YAMLDiagnostics.problem(e))")
        }
        guard let root = node else { throw ConfigError(SourceLocation(file: file), "empty image config") }
        let r = NodeReader(file: file)
        var cfg = ImageConfig(file: file)
        let dir = URL(fileURLWithPath: file).deletingLastPathComponent().path
        func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : dir + "/" + p }
        var base: ImageConfig?

        for (key, knode, value) in try r.mapping(root, "image config") {
            switch key {
            case "include":
                let inc = try r.string(value, "include")
                let (found, tried) = resolveInclude(inc, configFile: file, includePaths: includePaths)
                guard let incPath = found else {
                    throw ConfigError(r.loc(value), "included file \(inc) not found (looked at \(tried.joined(separator: ", ")))")
                }
                base = try load(path: incPath, seen: seen, includePaths: includePaths)
            case "name":
                cfg.name = try r.string(value, key)
                try checkImageName(cfg.name!, at: r.loc(value))
            case "version":
                cfg.version = try r.string(value, key)
                try checkTag(cfg.version!, at: r.loc(value))
            case "contents":
                for (k, _, v) in try r.mapping(value, "contents") {
                    switch k {
                    case "repositories", "runtime_repositories", "build_repositories":
                        for (s, n) in try r.strings(v, k) {
                            var t = s
                            if t.hasPrefix("@"), let sp = t.firstIndex(of: " ") { t = String(t[t.index(after: sp)...]).trimmingCharacters(in: .whitespaces) }
                            var local: String?
                            if t.hasPrefix("file://") { local = String(t.dropFirst(7)) }
                            else if !t.contains("://") { local = resolve(t) }
                            if k == "runtime_repositories" { local = nil }
                            cfg.repositories.append(Repo(text: s, path: local, location: r.loc(n)))
                        }
                    case "keyring":
                        for (s, n) in try r.strings(v, k) {
                            if s.contains("://") && !s.hasPrefix("file://") {
                                throw ConfigError(r.loc(n), "keyring entry \(s) is a URL; kiln works offline — use a local public key file")
                            }
                            cfg.keyring.append(resolve(s.hasPrefix("file://") ? String(s.dropFirst(7)) : s))
                        }
                    case "packages":
                        cfg.packages += try parsePackages(v, r)
                    case "baseimage":
                        throw ConfigError(r.loc(v), "contents.baseimage is not supported by kiln; list the packages instead")
                    case "runtime_keyring":
                        cfg.runtimeKeyring += try parseRuntimeKeyring(v, r, resolve: resolve, warnings: &cfg.warnings)
                    default: r.warnUnknown("contents.\(k)", v, &cfg.warnings)
                    }
                }
            case "entrypoint":
                var e = Entrypoint()
                for (k, _, v) in try r.mapping(value, "entrypoint") {
                    switch k {
                    case "type": e.type = try r.string(v, k)
                    case "command": e.command = try r.string(v, k)
                    case "shell-fragment": e.shellFragment = try r.string(v, k)
                    case "services":
                        throw ConfigError(r.loc(v), "entrypoint.services (service bundles) are not supported; use command")
                    default: r.warnUnknown("entrypoint.\(k)", v, &cfg.warnings)
                    }
                }
                if let t = e.type, t != "", t != "command" {
                    throw ConfigError(r.loc(value), "entrypoint type '\(t)' is not supported; kiln supports plain commands")
                }
                cfg.entrypoint = e
            case "cmd": cfg.cmd = try r.string(value, key)
            case "work-dir": cfg.workDir = try r.string(value, key)
            case "stop-signal": cfg.stopSignal = try r.string(value, key)
            case "vcs-url": cfg.vcsURL = try r.string(value, key)
            case "accounts":
                for (k, _, v) in try r.mapping(value, "accounts") {
                    switch k {
                    case "run-as": cfg.runAs = try r.string(v, k)
                    case "groups":
                        for g in try r.sequence(v, k) {
                            var name: String?, gid: Int?, members: [String] = []
                            for (gk, _, gv) in try r.mapping(g, "group") {
                                switch gk {
                                case "groupname": name = try r.string(gv, gk)
                                case "gid": gid = try r.int(gv, gk)
                                case "members": members = try r.strings(gv, gk).map(\.0)
                                default: r.warnUnknown("accounts.groups[].\(gk)", gv, &cfg.warnings)
                                }
                            }
                            guard let name, let gid else { throw ConfigError(r.loc(g), "a group needs groupname and gid") }
                            cfg.groups.append(Group(name: name, gid: gid, members: members))
                        }
                    case "users":
                        for u in try r.sequence(v, k) {
                            var name: String?, uid: Int?, user = User(name: "", uid: 0)
                            for (uk, _, uv) in try r.mapping(u, "user") {
                                switch uk {
                                case "username": name = try r.string(uv, uk)
                                case "uid": uid = try r.int(uv, uk)
                                case "gid": user.gid = try r.int(uv, uk)
                                case "shell": user.shell = try r.string(uv, uk)
                                case "homedir": user.homedir = try r.string(uv, uk)
                                default: r.warnUnknown("accounts.users[].\(uk)", uv, &cfg.warnings)
                                }
                            }
                            guard let name, let uid else { throw ConfigError(r.loc(u), "a user needs username and uid") }
                            user.name = name; user.uid = uid
                            cfg.users.append(user)
                        }
                    default: r.warnUnknown("accounts.\(k)", v, &cfg.warnings)
                    }
                }
            case "environment":
                for (k, _, v) in try r.mapping(value, "environment") { cfg.environment[k] = try r.string(v, k) }
            case "annotations":
                for (k, _, v) in try r.mapping(value, "annotations") { cfg.annotations[k] = try r.string(v, k) }
            case "os-release":
                for (k, _, v) in try r.mapping(value, "os-release") { cfg.osRelease[k] = try r.string(v, k) }
            case "volumes": cfg.volumes += try r.strings(value, key).map(\.0)
            case "archs":
                for (a, n) in try r.strings(value, key) {
                    let norm = a == "amd64" ? "x86_64" : a
                    guard norm == "x86_64" else {
                        throw ConfigError(r.loc(n), "architecture '\(a)' cannot be built here: kiln builds x86_64 images only; remove it from archs")
                    }
                    if !cfg.archs.contains(norm) { cfg.archs.append(norm) }
                }
            case "paths":
                for p in try r.sequence(value, key) {
                    var path: String?, kind: PathEntry.Kind?
                    var e = PathEntry(path: "", kind: .directory, recursive: false, location: r.loc(p))
                    for (pk, _, pv) in try r.mapping(p, "paths entry") {
                        switch pk {
                        case "path": path = try r.string(pv, pk)
                        case "type":
                            let t = try r.string(pv, pk)
                            guard let k = PathEntry.Kind(rawValue: t) else {
                                throw ConfigError(r.loc(pv), "unknown path type '\(t)'; use directory, empty-file, symlink, hardlink or permissions")
                            }
                            kind = k
                        case "uid": e.uid = try r.int(pv, pk)
                        case "gid": e.gid = try r.int(pv, pk)
                        case "permissions": e.permissions = try r.octal(pv, pk)
                        case "source": e.source = try r.string(pv, pk)
                        case "recursive": e.recursive = try r.bool(pv, pk)
                        default: r.warnUnknown("paths[].\(pk)", pv, &cfg.warnings)
                        }
                    }
                    guard let path, let kind else { throw ConfigError(r.loc(p), "a paths entry needs path and type") }
                    if (kind == .symlink || kind == .hardlink) && e.source == nil {
                        throw ConfigError(r.loc(p), "a \(kind.rawValue) path needs source")
                    }
                    e.path = path; e.kind = kind
                    cfg.paths.append(e)
                }
            case "layering":
                var strategy = "origin", budget = 10
                for (k, _, v) in try r.mapping(value, "layering") {
                    switch k {
                    case "strategy":
                        strategy = try r.string(v, k)
                        guard strategy == "origin" else {
                            throw ConfigError(r.loc(v), "layering strategy '\(strategy)' is unknown; kiln supports 'origin'")
                        }
                    case "budget":
                        budget = try r.int(v, k)
                        guard budget >= 1 && budget <= 127 else {
                            throw ConfigError(r.loc(v), "layering budget must be between 1 and 127")
                        }
                    default: r.warnUnknown("layering.\(k)", v, &cfg.warnings)
                    }
                }
                cfg.layering = Layering(strategy: strategy, budget: budget)
            case "variants":
                for (vname, vn, v) in try r.mapping(value, "variants") {
                    guard vname == "standard" || vname == "fips" else {
                        throw ConfigError(r.loc(vn), "unknown variant '\(vname)'; variants are standard and fips")
                    }
                    for (k, _, vv) in try r.mapping(v, "variants.\(vname)") {
                        if k == "packages" { cfg.variantPackages[vname, default: []] += try parsePackages(vv, r) }
                        else { r.warnUnknown("variants.\(vname).\(k)", vv, &cfg.warnings) }
                    }
                }
            case "fips":
                for (k, kn, v) in try r.mapping(value, "fips") {
                    guard k == "allow" else { throw ConfigError(r.loc(kn), "unknown key 'fips.\(k)' (fips has only allow: [{path, finding, reason}])") }
                    cfg.fipsAllow += try FIPSAllowance.parseList(v, what: "fips.allow", at: { "\(r.loc($0))" },
                                                                 fail: { n, m in ConfigError(r.loc(n), m) })
                }
            case "certificates":
                cfg.certificates = try parseCertificates(value, r, warnings: &cfg.warnings)
            default:
                r.warnUnknown(key, knode, &cfg.warnings)
            }
        }
        if let base { cfg = merge(base: base, over: cfg) }
        if cfg.archs.isEmpty { cfg.archs = ["x86_64"] }
        return cfg
    }

    static func parsePackages(_ v: Node, _ r: NodeReader) throws -> [Package] {
        guard case .sequence = v else {
            throw ConfigError(r.loc(v), "packages must be a list (`packages: [name, ...]` or one `- name` per line)")
        }
        return try r.strings(v, "packages").map { s, n in
            guard let d = APKDependency.parse(s), !d.conflict || true else {
                throw ConfigError(r.loc(n), "malformed package '\(s)'; write name, name=1.2-r0, name>=1.2, name<2 or name~1.2")
            }
            return Package(dependency: d, location: r.loc(n))
        }
    }

    /// `over` wins for scalars and map keys; lists are base then over.
    static func merge(base: ImageConfig, over: ImageConfig) -> ImageConfig {
        var m = over
        m.name = over.name ?? base.name
        m.version = over.version ?? base.version
        m.repositories = base.repositories + over.repositories.filter { o in !base.repositories.contains { $0.text == o.text } }
        m.keyring = base.keyring + over.keyring.filter { !base.keyring.contains($0) }
        m.packages = base.packages + over.packages
        m.entrypoint = over.entrypoint ?? base.entrypoint
        m.cmd = over.cmd ?? base.cmd
        m.workDir = over.workDir ?? base.workDir
        m.stopSignal = over.stopSignal ?? base.stopSignal
        m.groups = base.groups + over.groups
        m.users = base.users + over.users
        m.runAs = over.runAs ?? base.runAs
        m.environment = base.environment.merging(over.environment) { _, o in o }
        m.annotations = base.annotations.merging(over.annotations) { _, o in o }
        m.osRelease = base.osRelease.merging(over.osRelease) { _, o in o }
        m.paths = base.paths + over.paths
        m.archs = over.archs.isEmpty ? base.archs : over.archs
        m.layering = over.layering ?? base.layering
        m.variantPackages = base.variantPackages.merging(over.variantPackages) { b, o in b + o }
        m.vcsURL = over.vcsURL ?? base.vcsURL
        m.volumes = base.volumes + over.volumes
        m.certificates = over.certificates.isEmpty ? base.certificates : over.certificates   // apko: the including file's wins
        m.runtimeKeyring = base.runtimeKeyring + over.runtimeKeyring.filter { !base.runtimeKeyring.contains($0) }   // apko: concatenated, duplicates dropped
        m.fipsAllow = base.fipsAllow + over.fipsAllow
        m.warnings = base.warnings + over.warnings
        m.sourceFiles = over.sourceFiles + base.sourceFiles
        return m
    }
}

/// Typed access to a Yams node tree with positions for every error.
struct NodeReader {
    var file: String

    func loc(_ n: Node) -> SourceLocation {
        SourceLocation(file: file, line: n.mark?.line ?? 0, column: n.mark?.column ?? 0)
    }

    func mapping(_ n: Node, _ what: String) throws -> [(String, Node, Node)] {
        guard case let .mapping(m) = n else { throw ConfigError(loc(n), "\(what) must be a mapping (key: value)") }
        var seen: [String: Node] = [:]
        var out: [(String, Node, Node)] = []
        for (k, v) in m {
            guard case let .scalar(s) = k else { throw ConfigError(loc(k), "keys in \(what) must be plain words") }
            if let prev = seen[s.string] {
                throw ConfigError(loc(k), "duplicate key '\(s.string)' in \(what) (first at line \(prev.mark?.line ?? 0))")
            }
            seen[s.string] = k
            out.append((s.string, k, v))
        }
        return out
    }

    func sequence(_ n: Node, _ what: String) throws -> [Node] {
        guard case let .sequence(s) = n else { throw ConfigError(loc(n), "\(what) must be a list") }
        return Array(s)
    }

    func string(_ n: Node, _ what: String) throws -> String {
        guard case let .scalar(s) = n else { throw ConfigError(loc(n), "\(what) must be a single value, not a list or mapping") }
        return s.string
    }

    func strings(_ n: Node, _ what: String) throws -> [(String, Node)] {
        if case .scalar = n { return [(try string(n, what), n)] }
        return try sequence(n, what).map { (try string($0, "each item of \(what)"), $0) }
    }

    func int(_ n: Node, _ what: String) throws -> Int {
        let s = try string(n, what)
        guard let v = Int(s) else { throw ConfigError(loc(n), "\(what) must be an integer, got '\(s)'") }
        return v
    }

    func bool(_ n: Node, _ what: String) throws -> Bool {
        switch try string(n, what).lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        case let s: throw ConfigError(loc(n), "\(what) must be true or false, got '\(s)'")
        }
    }

    /// Permissions: `0o755`, `0755` (octal) or a decimal number.
    func octal(_ n: Node, _ what: String) throws -> UInt32 {
        let s = try string(n, what)
        let v: UInt32?
        if s.hasPrefix("0o") { v = UInt32(s.dropFirst(2), radix: 8) }
        else if s.hasPrefix("0") && s.count > 1 { v = UInt32(s.dropFirst(), radix: 8) }
        else { v = UInt32(s) }
        guard let v, v <= 0o7777 else { throw ConfigError(loc(n), "\(what) must be an octal mode like 0o755, got '\(s)'") }
        return v
    }

    func warnUnknown(_ key: String, _ n: Node, _ warnings: inout [String]) {
        warnings.append("\(loc(n)): unknown key '\(key)' (ignored)")
    }
}
