import Foundation
import KilnAPK
import KilnArchive
import KilnCore
import KilnOCI
import KilnFIPS
import KilnCrypto

/// The two images one config yields.
public enum ImageVariant: String, CaseIterable, Codable, Sendable {
    case standard, fips
    /// Packages the FIPS variant always adds.
    public static let fipsPackages = FIPSPackageName.runtime
}

/// A pinned package set (`kiln lock`): names, versions and digests per variant.
public struct LockFile: Codable, Sendable {
    public struct Entry: Codable, Hashable, Sendable {
        public var name: String
        public var version: String
        public var arch: String
        public var checksum: String     // APKINDEX C: (Q1 + base64 sha1 of the control member)
        public var sha256: String       // of the .apk file
    }
    public var lockVersion = 1
    public var image: String
    public var config: String
    public var variants: [String: [Entry]]

    public func encoded() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        var d = try e.encode(self)
        d.append(0x0A)
        return d
    }

    public static func load(path: String) throws -> LockFile {
        guard let d = FileManager.default.contents(atPath: path) else {
            throw KilnMessage("\(path): cannot read lock file (make one with `kiln lock CONFIG`)")
        }
        do { return try JSONDecoder().decode(LockFile.self, from: d) } catch {
            throw KilnMessage("\(path): not a kiln lock file: \(error)")
        }
    }
}

public struct ImageBuildOptions {
    /// Repository directories to use instead of `contents.repositories`.
    public var repositories: [String]?
    /// Extra trusted public keys (added to `contents.keyring`): key files, or directories whose public keys are all trusted.
    public var extraKeys: [String] = []
    public var variants: [ImageVariant] = ImageVariant.allCases
    public var lock: LockFile?
    public var sourceDateEpoch: Int64?
    /// libdeflate level for layers (`LayerWriter.defaultLevel` unless set).
    public var gzipLevel = LayerWriter.defaultLevel
    public var threads = 0
    public init() {}
}

/// What was built for one variant.
public struct VariantResult: Sendable {
    public var variant: ImageVariant
    public var tag: String
    public var manifest: OCIDescriptor
    public var config: OCIDescriptor
    public var layers: [LayerResult]
    public var packages: [APKRepositoryPackage]
    public var annotations: [String: String]
}

/// Resolved inputs for all variants (what `kiln lock` records).
public struct Resolution {
    public var keyring: APKKeyring
    public var repositories: [String]
    public var packages: [ImageVariant: [APKRepositoryPackage]]
    public var failures: [ImageVariant: Error] = [:]
}

/// Assembles apko-style configs into OCI image layouts.
public final class ImageBuilder {
    public let config: ImageConfig
    public var options: ImageBuildOptions
    public var progress: KilnCore.Progress?
    /// Per-variant timing / diagnostics for callers (e.g. the CLI's --verbose).
    public private(set) var log: [String] = []

    public init(config: ImageConfig, options: ImageBuildOptions = ImageBuildOptions()) {
        self.config = config; self.options = options
    }

    // MARK: resolution

    public func world(for variant: ImageVariant) -> [APKDependency] {
        var w = config.packages.map(\.dependency)
        w += (config.variantPackages[variant.rawValue] ?? []).map(\.dependency)
        if variant == .fips {
            for p in ImageVariant.fipsPackages where !w.contains(where: { $0.name == p }) { w.append(APKDependency(name: p)) }
        }
        return w
    }

    public func resolve() throws -> Resolution {
        let keyring = try APKKeyring.image(paths: config.keyring + options.extraKeys)
        guard !keyring.isEmpty else {
            throw ConfigError(SourceLocation(file: config.file), "no trusted keys: list the repository's public key under contents.keyring (or pass --keyring)")
        }
        let repoDirs: [String]
        if let r = options.repositories, !r.isEmpty { repoDirs = r } else {
            var dirs: [String] = []
            for r in config.repositories {
                guard let p = r.path else {
                    if r.text.contains("://") {
                        throw ConfigError(r.location, "repository \(r.text) is remote; kiln installs from local repositories only (pass --repo DIR)")
                    }
                    continue
                }
                dirs.append(p)
            }
            repoDirs = dirs
        }
        guard !repoDirs.isEmpty else {
            throw ConfigError(SourceLocation(file: config.file), "no repositories: list one under contents.repositories or pass --repo DIR")
        }
        var records: [APKRepositoryPackage] = []
        for (i, dir) in repoDirs.enumerated() {
            records += try Repository.load(path: dir, arch: "x86_64", keyring: keyring, index: i)
        }
        records = records.filter { $0.arch == "x86_64" || $0.arch == "noarch" || $0.arch.isEmpty }
        var res = Resolution(keyring: keyring, repositories: repoDirs, packages: [:])
        let solver = Solver(records: records)
        for v in ImageVariant.allCases {
            do {
                if let lock = options.lock {
                    res.packages[v] = try locked(v, lock: lock, records: records)
                } else {
                    res.packages[v] = try solver.solve(world(for: v), preferFIPS: v == .fips)
                }
            } catch {
                if options.variants.contains(v) { throw error }
                res.failures[v] = error
            }
        }
        return res
    }

    func locked(_ v: ImageVariant, lock: LockFile, records: [APKRepositoryPackage]) throws -> [APKRepositoryPackage] {
        guard let entries = lock.variants[v.rawValue] else {
            throw KilnMessage("lock file has no '\(v.rawValue)' variant; run `kiln lock` again")
        }
        return try entries.map { e in
            guard let r = records.first(where: { $0.name == e.name && $0.version == e.version }) else {
                throw KilnMessage("lock pins \(e.name)-\(e.version), which is not in the repositories; rebuild it or run `kiln lock` again")
            }
            guard r.checksum == e.checksum else {
                throw KilnMessage("lock pins \(e.name)-\(e.version) with checksum \(e.checksum) but the repository has \(r.checksum); the package was rebuilt — run `kiln lock` again if that is intended")
            }
            return r
        }
    }

    /// Builds a lock file from a resolution (also verifies every package).
    public func lockFile(_ res: Resolution) throws -> LockFile {
        var variants: [String: [LockFile.Entry]] = [:]
        for (v, pkgs) in res.packages {
            variants[v.rawValue] = try pkgs.map { r in
                let p = try VerifiedPackage.load(r, keyring: res.keyring)
                return LockFile.Entry(name: r.name, version: r.version, arch: r.arch, checksum: r.checksum, sha256: p.sha256)
            }.sorted { $0.name < $1.name }
        }
        return LockFile(image: config.imageName, config: URL(fileURLWithPath: config.file).lastPathComponent, variants: variants)
    }

    // MARK: build

    /// The layout is written beside `layoutPath` under a temporary name and renamed into place; an
    /// existing file, symlink or non-layout directory at `layoutPath` is refused before anything is built.
    public func build(out layoutPath: String) throws -> [VariantResult] {
        var results: [VariantResult] = []
        try AtomicFile.checkReplaceable(layoutPath, marker: "oci-layout")
        let parent = (layoutPath as NSString).deletingLastPathComponent
        AtomicFile.removeStaleTemporaries(in: parent.isEmpty ? "." : parent)
        let res = try resolve()
        try AtomicFile.replaceDirectory(layoutPath, marker: "oci-layout") { tmp in
            results = try build(res, layout: OCILayout.create(at: tmp))
        }
        return results
    }

    /// Builds every requested variant into `layout` (which must be a fresh directory). Package
    /// contents stream from each .apk into a spill directory inside the layout (removed before this
    /// returns) and from there into the layer tar, so memory does not grow with package size.
    public func build(_ res: Resolution, layout: OCILayout) throws -> [VariantResult] {
        let spill = try SpillDirectory(path: layout.path + "/.kiln-spill")
        defer { spill.remove() }
        // Load and verify each package once.
        var loaded: [String: VerifiedPackage] = [:]
        let all = res.packages.values.flatMap { $0 }
        for r in all where loaded[r.checksum + r.nameVersion] == nil {
            progress?.update("verify \(r.nameVersion)")
            let p = try VerifiedPackage.load(r, keyring: res.keyring, spill: spill)
            if let lock = options.lock, let e = lock.variants.values.joined().first(where: { $0.name == r.name && $0.version == r.version }),
               e.sha256 != p.sha256 {
                throw KilnMessage("\(r.location): SHA-256 \(p.sha256) differs from the lock file (\(e.sha256)); run `kiln lock` again if the change is intended")
            }
            loaded[r.checksum + r.nameVersion] = p
        }
        let epochOverride = options.sourceDateEpoch ?? SourceDateEpoch.fromEnvironment()

        // Trees per variant.
        var trees: [ImageVariant: (tree: ImageTree, pkgNodes: [String: [(String, FSNode)]])] = [:]
        for v in ImageVariant.allCases {
            guard let pkgs = res.packages[v] else { continue }
            var tree = ImageTree()
            var pkgNodes: [String: [(String, FSNode)]] = [:]
            // No package scripts run, so the order only decides conflicts; a canonical (name)
            // order makes a locked build identical to a solved one.
            for r in pkgs.sorted(by: { $0.name < $1.name }) {
                let p = loaded[r.checksum + r.nameVersion]!
                try tree.install(package: r.name, entries: p.entries)
                pkgNodes[r.name] = (tree.owned[r.name] ?? []).compactMap { path in tree.node(path).map { (path, $0) } }
            }
            try RootFS.finish(&tree, config: config, variant: v, packages: pkgs, pkgNodes: pkgNodes,
                              world: world(for: v), keyring: res.keyring,
                              version: imageVersion(res))
            trees[v] = (tree, pkgNodes)
        }

        // Layer plan (joint, so variants share package layers).
        let plan = Layering.plan(config.layering, variants: res.packages)
        var written: [String: LayerResult] = [:]
        var results: [VariantResult] = []
        for v in options.variants {
            guard let pkgs = res.packages[v]?.sorted(by: { $0.name < $1.name }), let t = trees[v] else { continue }
            let variantEpoch = epochOverride ?? (pkgs.map { $0.buildTime ?? 0 }.max() ?? 0)
            var layers: [LayerResult] = []
            var history: [OCI.ImageConfig.History] = []
            var lower: [String: FSNode] = [:]
            for g in plan.groups(for: v) {
                let epoch = epochOverride ?? (g.packages.map { $0.buildTime ?? 0 }.max() ?? 0)
                var nodes: [String: FSNode] = [:]
                for r in g.packages { for (p, n) in t.pkgNodes[r.name] ?? [] where nodes[p] == nil { nodes[p] = n } }
                for p in Array(nodes.keys) {
                    var parts = p.split(separator: "/").dropLast()
                    while !parts.isEmpty {
                        let d = parts.joined(separator: "/")
                        if nodes[d] == nil { nodes[d] = FSNode(kind: .directory, mode: 0o755) }
                        parts = parts.dropLast()
                    }
                }
                let key = g.key + "@\(epoch)"
                let layer: LayerResult
                if let w = written[key] { layer = w } else {
                    progress?.update("layer \(g.origin) (\(nodes.count) paths)")
                    layer = try LayerWriter.write(entries: nodes.keys.sorted().map { nodes[$0]!.tarEntry(path: $0) },
                                                  epoch: epoch, blobsDir: layout.blobsDirectory,
                                                  level: options.gzipLevel, threads: options.threads)
                    written[key] = layer
                }
                for (p, n) in nodes { lower[p] = n }
                layers.append(layer)
                history.append(.init(created: SourceDateEpoch.rfc3339(epoch), created_by: "kiln image",
                                     comment: "packages: " + g.packages.map(\.nameVersion).joined(separator: " ")))
            }
            // The top layer: everything not already identical in a lower layer.
            var top: [TarEntry] = []
            for (p, n) in t.tree.nodes {
                if let l = lower[p], try l.sameContent(n) { continue }
                top.append(n.tarEntry(path: p))
            }
            top.sort { $0.path < $1.path }
            progress?.update("layer \(v.rawValue) (\(top.count) paths)")
            let topLayer = try LayerWriter.write(entries: top, epoch: variantEpoch, blobsDir: layout.blobsDirectory,
                                                 level: options.gzipLevel, threads: options.threads)
            layers.append(topLayer)
            let rest = pkgs.filter { r in !plan.groups(for: v).contains { $0.packages.contains(r) } }
            history.append(.init(created: SourceDateEpoch.rfc3339(variantEpoch), created_by: "kiln image",
                                 comment: rest.isEmpty ? "image files" : "packages: " + rest.map(\.nameVersion).joined(separator: " ") + "; image files"))
            results.append(try writeImage(v, layers: layers, history: history, tree: t.tree, packages: pkgs,
                                          epoch: variantEpoch, layout: layout, res: res))
        }
        try layout.writeImageIndex(results.map { r in
            var d = r.manifest
            d.annotations = [OCIMediaType.refName: r.tag]
            d.platform = .init(architecture: "amd64", os: "linux")
            return d
        })
        progress?.finish()
        return results
    }

    /// `version:` from the config, else the version of the first listed package (standard variant).
    public func imageVersion(_ res: Resolution) -> String {
        if let v = config.version { return v }
        if let first = config.packages.first?.dependency.name,
           let r = (res.packages[.standard] ?? res.packages[.fips] ?? []).first(where: { $0.name == first || $0.name == first + "-fips" }) {
            return r.version
        }
        return "latest"
    }

    /// `run-as` must name an account the image has: `user`, `uid`, `user:group` or `uid:gid`, where
    /// a name must be in the image's `etc/passwd` (`etc/group` for the group); numbers are taken as given.
    func checkRunAs(in tree: ImageTree) throws {
        guard let runAs = config.runAs else { return }
        let parts = runAs.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        func names(_ file: String) throws -> Set<String> {
            guard let n = tree.node(file), n.kind == .file else { return [] }
            return Set(String(decoding: try n.bytes(), as: UTF8.self).split(separator: "\n").compactMap {
                $0.split(separator: ":", omittingEmptySubsequences: false).first.map(String.init)
            })
        }
        for (i, part) in parts.enumerated() where UInt32(part) == nil {
            let file = i == 0 ? "etc/passwd" : "etc/group"
            guard !part.isEmpty, try names(file).contains(part) else {
                throw ConfigError(SourceLocation(file: config.file),
                                  "accounts.run-as: `\(runAs)`: no \(i == 0 ? "user" : "group") `\(part)` in the image's /\(file); "
                                      + "add it under accounts.\(i == 0 ? "users" : "groups") or use a numeric id")
            }
        }
    }

    func writeImage(_ v: ImageVariant, layers: [LayerResult], history: [OCI.ImageConfig.History], tree: ImageTree,
                    packages: [APKRepositoryPackage], epoch: Int64, layout: OCILayout, res: Resolution) throws -> VariantResult {
        let created = SourceDateEpoch.rfc3339(epoch)
        var env = config.environment
        if env["PATH"] == nil { env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" }
        var c = OCI.ImageConfig.Config()
        c.Env = env.keys.sorted().map { "\($0)=\(env[$0]!)" }
        if let e = config.entrypoint {
            if let frag = e.shellFragment { c.Entrypoint = ["/bin/sh", "-c", frag] }
            else if let cmd = e.command { c.Entrypoint = try ShellWords.split(cmd, location: SourceLocation(file: config.file)) }
        }
        if let cmd = config.cmd { c.Cmd = try ShellWords.split(cmd, location: SourceLocation(file: config.file)) }
        try checkRunAs(in: tree)
        c.User = config.runAs
        c.WorkingDir = config.workDir
        c.StopSignal = config.stopSignal
        if !config.volumes.isEmpty { c.Volumes = Dictionary(uniqueKeysWithValues: config.volumes.map { ($0, [:]) }) }
        let image = OCI.ImageConfig(created: created, architecture: "amd64", os: "linux", config: c,
                                    rootfs: .init(diff_ids: layers.map(\.diffID)), history: history)
        let configDesc = try layout.writeImageBlob(try OCI.encode(image), mediaType: OCIMediaType.imageConfig)

        let version = imageVersion(res)
        let tag = "\(config.imageName):\(version)" + (v == .fips ? "-fips" : "")
        var ann: [String: String] = [
            "org.opencontainers.image.created": created,
            "org.opencontainers.image.title": config.imageName,
            "org.opencontainers.image.version": version,
            "org.opencontainers.image.vendor": "kiln",
            OCIMediaType.kilnVariant: v.rawValue,
        ]
        if let src = config.vcsURL { ann["org.opencontainers.image.source"] = src }
        for (k, val) in config.annotations { ann[k] = val }
        if !config.fipsAllow.isEmpty { ann[FIPSAllowance.annotation] = try FIPSAllowance.annotationValue(config.fipsAllow) }
        if v == .fips { for (k, val) in try FIPSAnnotations.from(tree: tree, packages: packages) { ann[k] = val } }
        let manifest = OCI.Manifest(config: configDesc, layers: layers.map(\.descriptor), annotations: ann)
        let md = try layout.writeImageBlob(try OCI.encode(manifest), mediaType: OCIMediaType.imageManifest)
        return VariantResult(variant: v, tag: tag, manifest: md, config: configDesc, layers: layers,
                             packages: packages, annotations: ann)
    }
}

/// FIPS module identity annotations for the fips variant, from the provider package's own
/// `FIPSModuleIdentity` (KilnFIPS; `usr/share/kiln/fips-module.json`, written at package build time
/// from the module registry). Without a complete identity kiln can only say `fips-capable`.
public enum FIPSAnnotations {
    /// The annotations; an identity file whose spilled bytes cannot be read back is an error naming
    /// it (never a silently missing annotation). An identity that does not decode is `fips-capable`.
    public static func from(tree: ImageTree, packages: [APKRepositoryPackage]) throws -> [String: String] {
        var a: [String: String] = [:]
        let p = FIPSPackageName.provider
        let provider = packages.first { $0.name == p || $0.provides.contains { $0.hasPrefix(p) } }
        let identity: Data?
        do { identity = try tree.node(FIPSModuleIdentity.packagePath).flatMap { $0.kind == .file ? try $0.bytes() : nil } } catch {
            throw KilnMessage("\(FIPSModuleIdentity.packagePath), the FIPS module identity of the image: \(error)")
        }
        if let bytes = identity, let id = try? FIPSModuleIdentity.decode(bytes, source: FIPSModuleIdentity.packagePath) {
            a[FIPSAnnotationKey.status] = id.label.rawValue
            module(id.name, id.version, into: &a)
            a[FIPSAnnotationKey.package] = id.package
            if let cert = id.certificate { a[FIPSAnnotationKey.certificate] = cert.number }
        } else if tree.node(FIPSModuleIdentity.modulePath) != nil || provider != nil {
            a[FIPSAnnotationKey.status] = FIPSLabel.fipsCapable.rawValue
            if let provider { module(provider.name, provider.version, into: &a) } else { module("OpenSSL FIPS Provider", "", into: &a) }
        }
        if let provider, a[FIPSAnnotationKey.package] == nil { a[FIPSAnnotationKey.package] = provider.nameVersion }
        return a
    }

    /// The module's name and version as typed fields, and "name version" for people.
    static func module(_ name: String, _ version: String, into a: inout [String: String]) {
        a[FIPSAnnotationKey.module] = version.isEmpty ? name : "\(name) \(version)"
        a[FIPSAnnotationKey.moduleName] = name
        if !version.isEmpty { a[FIPSAnnotationKey.moduleVersion] = version }
    }
}

/// Splits an entrypoint/cmd string into words (single and double quotes, backslash escapes).
enum ShellWords {
    static func split(_ s: String, location: SourceLocation) throws -> [String] {
        var words: [String] = [], cur = "", inWord = false
        var quote: Character?
        var escape = false
        for ch in s {
            if escape { cur.append(ch); escape = false; inWord = true; continue }
            if let q = quote {
                if ch == q { quote = nil } else if ch == "\\" && q == "\"" { escape = true } else { cur.append(ch) }
                continue
            }
            switch ch {
            case "\\": escape = true
            case "'", "\"": quote = ch; inWord = true
            case " ", "\t", "\n":
                if inWord { words.append(cur); cur = ""; inWord = false }
            default: cur.append(ch); inWord = true
            }
        }
        if quote != nil || escape { throw ConfigError(location, "unbalanced quote in command '\(s)'") }
        if inWord { words.append(cur) }
        return words
    }
}
