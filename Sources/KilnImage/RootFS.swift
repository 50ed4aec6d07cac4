import Foundation
import KilnAPK
import KilnCore
import KilnCrypto

/// The files kiln writes into every image after the packages: the apk database (so apk, syft,
/// grype and trivy see the packages), accounts, os-release, and the config's `paths`.
enum RootFS {
    static func file(_ s: String, mode: UInt32 = 0o644) -> FSNode { FSNode(kind: .file, mode: mode, data: Data(s.utf8)) }

    static func finish(_ tree: inout ImageTree, config: ImageConfig, variant: ImageVariant, packages: [APKRepositoryPackage],
                       pkgNodes: [String: [(String, FSNode)]], world: [APKDependency], keyring: APKKeyring, version: String) throws {
        // apk database.
        tree.put("lib/apk/db/installed", file(installedDatabase(packages: packages, pkgNodes: pkgNodes)))
        tree.put("lib/apk/db/triggers", file(""))
        tree.put("etc/apk/world", file(world.map(\.description).sorted().joined(separator: "\n") + "\n"))
        tree.put("etc/apk/arch", file("x86_64\n"))
        tree.put("etc/apk/repositories", file(config.repositories.map(\.text).joined(separator: "\n") + (config.repositories.isEmpty ? "" : "\n")))
        for name in keyring.keys.keys.sorted() { tree.put("etc/apk/keys/" + name, FSNode(kind: .file, mode: 0o644, data: keyring.pems[name] ?? Data())) }
        try installRuntimeKeyring(config.runtimeKeyring, into: &tree)

        // Accounts.
        var passwd = try tree.node("etc/passwd").flatMap { $0.kind == .file ? String(decoding: try $0.bytes(), as: UTF8.self) : nil } ?? ""
        var group = try tree.node("etc/group").flatMap { $0.kind == .file ? String(decoding: try $0.bytes(), as: UTF8.self) : nil } ?? ""
        func names(_ text: String) -> Set<String> { Set(text.split(separator: "\n").compactMap { $0.split(separator: ":").first.map(String.init) }) }
        func append(_ text: inout String, _ line: String) {
            if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
            text += line + "\n"
        }
        if !names(passwd).contains("root") { append(&passwd, "root:x:0:0:root:/root:/bin/sh") }
        if !names(group).contains("root") { append(&group, "root:x:0:") }
        for g in config.groups where !names(group).contains(g.name) {
            append(&group, "\(g.name):x:\(g.gid):\(g.members.joined(separator: ","))")
        }
        for u in config.users where !names(passwd).contains(u.name) {
            let home = u.homedir ?? "/home/\(u.name)"
            let gid = u.gid ?? u.uid
            append(&passwd, "\(u.name):x:\(u.uid):\(gid):Account created by kiln:\(home):\(u.shell ?? "/bin/sh")")
            let hp = home.split(separator: "/").joined(separator: "/")
            if !hp.isEmpty && tree.node(hp) == nil {
                var d = FSNode(kind: .directory, mode: 0o755)
                d.uid = u.uid; d.gid = gid; d.uname = u.name; d.gname = config.groups.first { $0.gid == gid }?.name ?? u.name
                tree.put(hp, d)
            }
        }
        tree.put("etc/passwd", file(passwd))
        tree.put("etc/group", file(group))

        // os-release: the config's fields win; a package's file is kept otherwise.
        if !config.osRelease.isEmpty || tree.node("etc/os-release") == nil {
            var f: [(String, String)] = [
                ("ID", config.osRelease["id"] ?? "kiln"),
                ("NAME", config.osRelease["name"] ?? "kiln"),
                ("PRETTY_NAME", config.osRelease["pretty-name"] ?? "kiln \(config.imageName) \(version)" + (variant == .fips ? " (FIPS)" : "")),
                ("VERSION_ID", config.osRelease["version-id"] ?? version),
            ]
            if let h = config.osRelease["home-url"] { f.append(("HOME_URL", h)) }
            if let b = config.osRelease["bug-report-url"] { f.append(("BUG_REPORT_URL", b)) }
            if variant == .fips { f.append(("VARIANT_ID", "fips")) }
            tree.put("etc/os-release", file(f.map { "\($0.0)=\"\($0.1)\"" }.joined(separator: "\n") + "\n"))
        }

        // paths:
        for p in config.paths { try applyPath(p, &tree) }

        // certificates.additional: one file each, and appended to the CA bundle when there is one.
        try installCertificates(config.certificates, into: &tree)
    }

    /// `contents.runtime_keyring`: each key as etc/apk/keys/NAME, after the packages and the build
    /// keyring, never over a key already there (apko refuses a collision too).
    static func installRuntimeKeyring(_ keys: [ImageConfig.RuntimeKey], into tree: inout ImageTree) throws {
        for k in keys {
            guard tree.node("etc/apk/keys/" + k.name) == nil else {
                throw ConfigError(k.location, "runtime_keyring key '\(k.name)' collides with an existing /etc/apk/keys entry")
            }
            tree.put("etc/apk/keys/" + k.name, FSNode(kind: .file, mode: 0o644, data: k.pem))
        }
    }

    /// apko's `certificates.additional`: each as usr/local/share/ca-certificates/NAME-SHA256.crt, and
    /// appended (in config order) to etc/ssl/certs/ca-certificates.crt when the image has that bundle.
    static func installCertificates(_ certs: [ImageConfig.Certificate], into tree: inout ImageTree) throws {
        guard !certs.isEmpty else { return }
        for c in certs { tree.put("usr/local/share/ca-certificates/\(c.name)-\(c.fingerprint).crt", file(c.pem)) }
        let bundle = "etc/ssl/certs/ca-certificates.crt"
        guard var n = tree.node(bundle), n.kind == .file else { return }
        var bundleBytes = try n.bytes()
        if let last = bundleBytes.last, last != 0x0A { bundleBytes.append(0x0A) }
        for c in certs { bundleBytes.append(Data(c.pem.utf8)) }
        n.setBytes(bundleBytes)
        tree.setNode(bundle, n)
    }

    static func applyPath(_ p: ImageConfig.PathEntry, _ tree: inout ImageTree) throws {
        let comps: [String]
        do { comps = try ImageTree.components(p.path, what: "paths") } catch {
            throw ConfigError(p.location, "unsafe path '\(p.path)' (contains ..)")
        }
        guard !comps.isEmpty else { throw ConfigError(p.location, "paths entry for / is not allowed") }
        let path = comps.joined(separator: "/")
        func owned(_ n: FSNode) -> FSNode {
            var n = n
            if let u = p.uid { n.uid = u; n.uname = u == 0 ? "root" : "" }
            if let g = p.gid { n.gid = g; n.gname = g == 0 ? "root" : "" }
            return n
        }
        switch p.kind {
        case .directory:
            tree.put(path, owned(FSNode(kind: .directory, mode: p.permissions ?? 0o755)))
        case .emptyFile:
            tree.put(path, owned(FSNode(kind: .file, mode: p.permissions ?? 0o644)))
        case .symlink:
            tree.put(path, owned(FSNode(kind: .symlink(p.source!), mode: 0o777)))
        case .hardlink:
            let src = p.source!.split(separator: "/").joined(separator: "/")
            guard let target = tree.node(src), target.kind == .file else {
                throw ConfigError(p.location, "hardlink source \(p.source!) is not a regular file in the image")
            }
            var n = target; n.owner = nil
            tree.put(path, n)
        case .permissions:
            guard tree.node(path) != nil else {
                throw ConfigError(p.location, "permissions for \(p.path), which does not exist in the image")
            }
            let targets = p.recursive ? tree.nodes.keys.filter { $0 == path || $0.hasPrefix(path + "/") } : [path]
            for t in targets {
                var n = owned(tree.node(t)!)
                if let m = p.permissions { n.mode = m }
                tree.setNode(t, n)
            }
        }
    }

    /// `lib/apk/db/installed` as apk-tools writes it: the index fields, then per directory `F:`
    /// (`M:` when not root:root 0755) and per file `R:` (`a:` when not root:root 0644) and `Z:`.
    static func installedDatabase(packages: [APKRepositoryPackage], pkgNodes: [String: [(String, FSNode)]]) -> String {
        var out = ""
        for r in packages.sorted(by: { $0.name < $1.name }) {
            out += r.record.installedHeader()
            var dirs: [String: FSNode?] = [:]
            var files: [String: [(String, FSNode)]] = [:]
            for (p, n) in pkgNodes[r.name] ?? [] {
                if n.kind == .directory { dirs[p] = n; continue }
                let comps = p.split(separator: "/")
                let dir = comps.dropLast().joined(separator: "/")
                files[dir, default: []].append((String(comps.last!), n))
                if dirs[dir] == nil { dirs[dir] = .some(nil) }
            }
            for d in dirs.keys.sorted() {
                if !d.isEmpty { out += "F:\(d)\n" }
                if let n = dirs[d] ?? nil, !d.isEmpty, n.uid != 0 || n.gid != 0 || n.mode != 0o755 {
                    out += "M:\(n.uid):\(n.gid):\(String(n.mode, radix: 8))\n"
                }
                for (name, n) in (files[d] ?? []).sorted(by: { $0.0 < $1.0 }) {
                    out += "R:\(name)\n"
                    if case .file = n.kind, n.uid != 0 || n.gid != 0 || n.mode != 0o644 {
                        out += "a:\(n.uid):\(n.gid):\(String(n.mode, radix: 8))\n"
                    }
                    if let s = n.sha1, let bytes = hexBytes(s) { out += "Z:Q1\(bytes.base64String)\n" }
                }
            }
            out += "\n"
        }
        return out
    }

    static func hexBytes(_ s: String) -> [UInt8]? {
        guard s.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2)
            guard let b = UInt8(s[i..<j], radix: 16) else { return nil }
            out.append(b); i = j
        }
        return out
    }
}
