import Foundation
import KilnAPK
import KilnBuild
import KilnCore
import KilnRecipe

/// Everything `kiln build` needs for a set of recipes, explicit: the builds' settings and, unless
/// trees only, where the packages go and which key signs them.
public struct BuildPipelineRequest: Sendable {
    /// The recipe files (built in dependency order).
    public var recipes: [String]
    /// The settings every build shares; its `recipePath` is replaced per recipe.
    public var build: BuildRequest
    /// `--toolchain`: `host`, `debian`, a root directory (see `ToolchainSpec`) or `auto` (`ToolchainChoice`).
    public var toolchain: String = "host"
    /// Also run each recipe's `test:` blocks after it is built.
    public var runTests = false
    /// Package the trees (nil: trees only, `--no-package`).
    public var packaging: Packaging?
    /// The FIPS module registry file that labels provider trees (`--fips-registry`); nil: a provider
    /// tree is an error.
    public var fipsRegistry: String?
    /// The Debian toolchain lock for `--toolchain debian` (absolute; nil: that toolchain is an error).
    public var toolchainLock: String?

    /// Where packages go and who signs them.
    public struct Packaging: Sendable {
        /// The APK repository root (`<repository>/<arch>/*.apk` + `APKINDEX.tar.gz`).
        public var repository: String
        /// The RSA key that signs packages and the index.
        public var signingKey: String
        /// Create `signingKey` (as `make keys` does) when it is missing — the development key only.
        public var createKeyIfMissing: Bool
        /// Purl distro.
        public var distro: String
        /// SBOM supplier.
        public var supplier: String?

        /// Packaging settings.
        public init(repository: String, signingKey: String, createKeyIfMissing: Bool, distro: String, supplier: String?) {
            self.repository = repository; self.signingKey = signingKey; self.createKeyIfMissing = createKeyIfMissing
            self.distro = distro; self.supplier = supplier
        }
    }

    /// A request for `recipes` with shared build settings.
    public init(recipes: [String], build: BuildRequest) { self.recipes = recipes; self.build = build }
}

/// What the pipeline reports as it goes (the CLI prints these).
public enum BuildPipelineEvent {
    /// A recipe's trees landed.
    case built(BuildResult)
    /// A package's tests ran.
    case tested(TestOutcome)
    /// A package was written.
    case packaged(APKWriter.Output)
    /// A repository directory's index was rewritten.
    case indexed(path: String, packages: Int)
}

/// `kiln build`: parse → order → build → (test) → stamp FIPS modules → package → index, per recipe.
public enum BuildPipeline {
    /// Builds every recipe of `r` in dependency order; returns the build results. Every recipe is
    /// parsed before any build starts or any key is made or loaded, so a refused recipe costs nothing.
    public static func run(_ r: BuildPipelineRequest, progress: KilnCore.Progress = .shared,
                           observe: (BuildPipelineEvent) -> Void = { _ in }) throws -> [BuildResult] {
        let parsed = try r.recipes.map { try RecipeParser(lenient: r.build.lenient).parse(path: $0).recipe }   // warnings: printed by the build
        let signer = try r.packaging.map {
            $0.createKeyIfMissing ? try DevelopmentKey.signer(at: $0.signingKey, progress: progress) : try APKSigner.load(path: $0.signingKey)
        }
        let installer = try zip(r.packaging, signer).map { try APKBuildInstaller(repository: $0.repository, signer: $1) }
        let builder = Builder(progress: progress, installer: installer)
        let ordered = try Builder.order(parsed)
        let tc = r.toolchain == ToolchainChoice.auto
            ? try ToolchainChoice.choose(ordered, build: r.build, installer: installer, lockPath: r.toolchainLock, progress: progress)
            : try ToolchainSpec.resolve(r.toolchain, out: r.build.outputDirectory, lockPath: r.toolchainLock)
        try checkFIPSVariantToolchain(r.build.variant, tc)
        var results: [BuildResult] = []
        for recipe in ordered {
            var req = r.build
            req.recipePath = recipe.file
            req.toolchain = tc
            // --resume over several recipes: those with a kept failed workspace resume, the rest build clean.
            if req.resume, ordered.count > 1 {
                let dir = ResumeRecord.directory(out: absolutePath(req.outputDirectory), package: recipe.package.name,
                                                 arch: req.arch, variant: req.variant ?? "standard")
                req.resume = FileManager.default.fileExists(atPath: "\(dir)/resume.json")
            }
            let result = try builder.build(req)
            results.append(result)
            observe(.built(result))
            if r.runTests { for o in try builder.test(req) { observe(.tested(o)) } }
            try PackageStage.stampFIPSModules(result, registryPath: r.fipsRegistry, progress: progress)   // first: the identity file must be in the tree before packaging
            guard let p = r.packaging, let signer else { continue }
            if result.resumed == true {
                progress.log("kiln: \(result.package.name): resumed build — trees only, not packaged or indexed; rebuild it without --resume to publish it")
                continue
            }
            let context = PackagingContext(signer: signer, distro: p.distro, supplier: p.supplier)
            for (_, out) in try PackageStage.writePackages(result, repository: p.repository, context: context) { observe(.packaged(out)) }
            let idx = try APKRepository.updateIndex(directory: "\(p.repository)/\(result.arch)", signer: signer)
            observe(.indexed(path: idx.indexPath, packages: idx.records.count))
        }
        return results
    }

    /// `--variant fips` needs a build root where kiln's OpenSSL is the only OpenSSL: the host toolchain
    /// (the host's /usr with its libssl-dev) or any root holding OpenSSL headers/libraries is refused.
    public static func checkFIPSVariantToolchain(_ variant: String?, _ tc: Toolchain) throws {
        guard variant == "fips" else { return }
        if tc.isHost {
            throw KilnMessage("--variant fips cannot use --toolchain host: the host's OpenSSL headers and libraries would be visible to the build. Use --toolchain debian (make toolchain).")
        }
        let found = DebianToolchain.openSSLFiles(root: tc.rootPath)
        guard found.isEmpty else {
            throw KilnMessage("--variant fips: toolchain root \(tc.rootPath) contains OpenSSL files (\(found.prefix(3).joined(separator: ", "))); only kiln's own OpenSSL packages may be visible to a FIPS build")
        }
    }
}

/// `p` made absolute against the current directory.
private func absolutePath(_ p: String) -> String {
    p.hasPrefix("/") ? p : FileManager.default.currentDirectoryPath + "/" + p
}

/// Both values, or nil.
private func zip<A, B>(_ a: A?, _ b: B?) -> (A, B)? {
    guard let a, let b else { return nil }
    return (a, b)
}
