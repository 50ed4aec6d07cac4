import Foundation
import KilnAPK
import KilnAttest
import KilnAudit
import KilnBuild
import KilnCore
import KilnCrypto
import KilnImage
import KilnOCI
import KilnPipeline

/// The package signer, shared by concurrent package builds (signing only reads the key, and
/// `APKSigner` holds an OpenSSL key that is not declared `Sendable`).
public final class SignerBox: @unchecked Sendable {
    /// The signer (nil: `--no-package`, the trees are the output).
    public let signer: APKSigner?
    /// A box around `signer`.
    public init(_ signer: APKSigner?) { self.signer = signer }
}

/// Builds one recipe node exactly as `kiln build` does: sandboxed build (build-time packages from
/// the repository, as `kiln build` installs them), then a signed .apk per package in the repository
/// and a re-signed APKINDEX. Variants build their trees in their own output directory
/// (`<out>/variants/<name>/`) and put their packages (`-fips` names) in the same repository, as
/// `kiln build --variant` does, so images find them.
public struct RecipeNodeExecutor: NodeExecutor {
    /// Target architecture.
    public var arch: String
    /// The build root.
    public var toolchain: Toolchain
    /// Extra pipeline directories (`uses:`).
    public var pipelineDirectories: [String]
    /// Whether sources may be downloaded (false: `--offline`).
    public var download: Bool
    /// Signs packages and the index (nil signer: trees only).
    public var signer: SignerBox
    /// The APK repository root the packages go to.
    public var repository: String
    /// Purl distro of the packages.
    public var distro: String
    /// SBOM supplier.
    public var supplier: String?
    /// The content-addressed source cache (default `<out>/sources`).
    public var sourceCache: String?
    /// Where the packages are written instead of the repository, whose APKINDEX is then left alone
    /// (a worker of a distributed run: only the coordinator writes the index). nil: the repository.
    public var packageDirectory: String?
    /// Public key files trusted for build-time packages besides the signer's own key (a worker
    /// signs with a throwaway key and trusts the coordinator's).
    public var trustedKeys: [String] = []

    /// The FIPS module registry file that labels provider trees (`--fips-registry`).
    public var fipsRegistry: String?

    /// An executor with every input explicit.
    public init(arch: String, toolchain: Toolchain, pipelineDirectories: [String], download: Bool, signer: SignerBox,
                repository: String, distro: String, supplier: String?) {
        self.arch = arch; self.toolchain = toolchain; self.pipelineDirectories = pipelineDirectories; self.download = download
        self.signer = signer; self.repository = repository; self.distro = distro; self.supplier = supplier
    }

    /// Builds (and packages) the node's recipe variant.
    public func execute(_ ctx: NodeContext) throws -> NodeOutcome {
        guard let payload = ctx.node.payload as? RecipeNodePayload else {
            throw KilnMessage("\(ctx.node.file): not a recipe node")
        }
        let base = payload.variant.map { "\(ctx.outputRoot)/variants/\($0)" } ?? ctx.outputRoot
        var req = BuildRequest(recipePath: payload.recipePath, outputDirectory: base, arch: arch)
        req.sourceCache = sourceCache ?? ctx.outputRoot + "/sources"
        req.variant = payload.variant
        req.toolchain = toolchain
        req.pipelineDirectories = pipelineDirectories
        req.download = download
        req.keepFailedForResume = false   // unattended: no workspace per failed node piles up
        // Packaging: build-time packages come from the repository (signature-checked), as with
        // `kiln build`; --no-package: from the standard trees (a variant's own trees first).
        let installer: BuildDependencyInstaller = try signer.signer.map { s -> APKBuildInstaller in
            var ring = APKKeyring()
            ring.add(name: s.keyName, key: try s.key.publicKey)
            for k in trustedKeys { try ring.add(path: k) }
            return APKBuildInstaller(repository: repository, keyring: ring)
        } ?? TreeDependencyInstaller(treesDirectories: ["\(base)/trees/\(arch)", "\(ctx.outputRoot)/trees/\(arch)"])
        let builder = Builder(progress: KilnCore.Progress(quiet: true), installer: installer)
        let result: BuildResult
        do {
            result = try builder.build(req)
        } catch let f as BuildFailure {
            Self.copyLog(f.logPath, to: ctx.logPath)
            throw f
        }
        Self.copyLog(result.log, to: ctx.logPath)
        try PackageStage.stampFIPSModules(result, registryPath: fipsRegistry, progress: KilnCore.Progress(quiet: true))   // as kiln build does before packaging
        var outputs: [OutputRecord] = [], provides: [String] = [], depends: [String] = []
        if let signer = signer.signer {
            let context = PackagingContext(signer: signer, distro: distro, supplier: supplier)
            for (m, o) in try PackageStage.writePackages(result, repository: packageDirectory ?? repository, context: context) {
                let digest = try Digest.hashFile(.sha256, path: o.path).hexString
                outputs.append(OutputRecord(kind: "apk", path: Self.relative(o.path, to: ctx.outputRoot), digest: "sha256:" + digest,
                                            size: Int64(o.fileSize), version: m.fullVersion))
                provides += [m.name] + o.info.provides
                depends += o.info.depends
            }
            if packageDirectory == nil { _ = try APKRepository.updateIndex(directory: "\(repository)/\(result.arch)", signer: signer) }
        } else {
            // --no-package: the build result (trees) is the output.
            let json = "\(base)/trees/\(result.arch)/\(result.package.name).build.json"
            if let d = FileManager.default.contents(atPath: json) {
                outputs.append(OutputRecord(kind: "build-result", path: Self.relative(json, to: ctx.outputRoot),
                                            digest: "sha256:" + (try Digest.sha256Hex(d)), size: Int64(d.count),
                                            version: result.package.fullVersion))
            }
        }
        return NodeOutcome(outputs: outputs, version: result.package.fullVersion, provides: provides, runtimeDependencies: depends)
    }

    static func relative(_ path: String, to root: String) -> String {
        path.hasPrefix(root + "/") ? String(path.dropFirst(root.count + 1)) : path
    }

    static func copyLog(_ from: String, to: String) {
        guard let d = FileManager.default.contents(atPath: from) else { return }
        try? FileManager.default.createDirectory(atPath: (to as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: to, contents: d + Data("(build log: \(from))\n".utf8))
    }
}

/// Assembles, signs and verifies one image config exactly as `kiln image`, `kiln sign` and
/// `kiln verify` do: both variants into `<out>/images/<name>/` from the nightly repository, each
/// with its SBOM/provenance and its signed FIPS boundary audit (`kiln audit`); the verified
/// boundary verdict of each variant is its output's `boundary`.
public struct ImageNodeExecutor: NodeExecutor {
    /// The APK repository the images install from.
    public var repository: String
    /// The public key the packages are signed with (trusted when the file exists).
    public var packageKey: String
    /// The ECDSA key that signs the images.
    public var imageKey: String

    /// An executor with every input explicit.
    /// The FIPS module registry file the boundary audit labels modules with (nil: all `fips-capable`).
    public var fipsRegistry: String?

    public init(repository: String, packageKey: String, imageKey: String) {
        self.repository = repository; self.packageKey = packageKey; self.imageKey = imageKey
    }

    /// Assembles, signs and verifies the node's image config.
    public func execute(_ ctx: NodeContext) throws -> NodeOutcome {
        guard let payload = ctx.node.payload as? ImageNodePayload else { throw KilnMessage("\(ctx.node.file): not an image node") }
        var log = "kiln nightly: image \(payload.configPath)\n"
        defer { _ = FileManager.default.createFile(atPath: ctx.logPath, contents: Data(log.utf8)) }
        let cfg = try ImageConfig.load(path: payload.configPath)
        var opts = ImageBuildOptions()
        opts.repositories = [repository]
        if FileManager.default.fileExists(atPath: packageKey) { opts.extraKeys = [packageKey] }
        opts.variants = ImageVariant.allCases
        let builder = ImageBuilder(config: cfg, options: opts)
        let dest = "\(ctx.outputRoot)/images/\(cfg.imageName)"
        let results = try builder.build(out: dest)
        for r in results { log += "built \(r.tag) \(r.manifest.digest)\n" }
        // sign (cosign-style signature + attestations), then verify offline
        guard FileManager.default.fileExists(atPath: imageKey) else {
            throw KilnMessage("image signing key \(imageKey) is missing: run `make keys` or pass --image-key")
        }
        let key = try SigningKeys.loadPrivate(path: imageKey)
        let layout = try OCILayout(path: dest)
        for t in try Attestor.targets(layout: layout, tag: nil) {
            var o = AttachOptions()
            o.tag = t.tag
            o.configName = payload.configPath
            o.configSHA256 = try Digest.sha256Hex(try Data(contentsOf: URL(fileURLWithPath: payload.configPath)))
            o.sbomDirectory = dest + "-sbom"
            let r = try Attestor.attach(layout: dest, manifestDigest: t.descriptor.digest, options: o, key: key)
            log += "signed \(t.tag ?? t.descriptor.digest) → \(r.signatureTag ?? "-")\n"
            let audit = try BoundaryAttestation.attach(layout: dest, manifestDigest: t.descriptor.digest,
                                                       name: t.tag ?? t.descriptor.digest, key: key, registryPath: fipsRegistry)
            log += "fips boundary \(t.tag ?? t.descriptor.digest): \(audit.verdict)" + (audit.passed ? "" : " (`kiln audit` lists the findings)") + "\n"
        }
        var v = Verifier(layout: try OCILayout(path: dest), tag: nil, key: try key.publicKey) { c in
            log += "verify \(c.ok ? "ok " : "FAIL") \(c.check): \(c.detail)\n"
        }
        var boundary: [String: String] = [:]   // manifest digest -> verified boundary verdict
        v.imageVerified = { boundary[$0.digest] = $0.boundary }
        _ = try v.run()
        let outputs = results.map { r in
            OutputRecord(kind: "image:\(r.variant.rawValue)", path: "images/\(cfg.imageName)", digest: r.manifest.digest,
                         size: r.layers.reduce(0) { $0 + $1.descriptor.size }, version: r.tag, boundary: boundary[r.manifest.digest] ?? "-")
        }
        return NodeOutcome(outputs: outputs, version: cfg.version)
    }
}
