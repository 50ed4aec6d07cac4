import Foundation
import KilnAPK
import KilnBuild
import KilnCore
import KilnPipeline

/// What `kiln repro RECIPE` (and the nightly's repro check) rebuilds, and how: the explicit
/// context the engine used to take as thirteen parameters.
public struct RecipeReproRequest {
    /// The recipe file.
    public var recipePath: String
    /// `nil` (standard) or a variant name (`fips`).
    public var variant: String?
    /// The output root (`out/`): `<out>/sources`, `<out>/packages`, `<out>/repro/<name>`.
    public var outputRoot: String
    /// The repository holding the published packages and build-time packages (default `<out>/packages`).
    public var publishedRepository: String?
    /// What to vary.
    public var variations: ReproVariations
    /// The build root.
    public var toolchain: Toolchain
    /// Signs the rebuilt packages (and is trusted for build-time packages).
    public var signer: APKSigner
    /// Purl distro of the packages.
    public var distro: String
    /// SBOM supplier.
    public var supplier: String?
    /// Run diffoscope on differing pairs.
    public var diffoscope = false
    /// Published package paths by package name (default: `<repository>/<arch>/<file>`).
    public var published: [String: String]?
    /// Where to copy the rebuild's log.
    public var logPath: String?
    /// The content-addressed source cache the rebuild fetches from (default `<out>/sources`, as `kiln build`).
    public var sourceCache: String?
    /// The FIPS module registry file that labels provider trees (`--fips-registry`), as the build used.
    public var fipsRegistry: String?

    /// A request with the required parts.
    public init(recipePath: String, variant: String?, outputRoot: String, publishedRepository: String?,
                variations: ReproVariations, toolchain: Toolchain, signer: APKSigner, distro: String, supplier: String?) {
        self.recipePath = recipePath; self.variant = variant; self.outputRoot = outputRoot
        self.publishedRepository = publishedRepository; self.variations = variations; self.toolchain = toolchain
        self.signer = signer; self.distro = distro; self.supplier = supplier
    }
}

/// The recipe rebuild engine: rebuild in a varied environment, package with the same
/// `PackageStage` as `kiln build`, compare each package with the published one.
public enum RecipeRepro {
    /// Rebuilds `r` and compares; returns the outcome and the repro directory. The `umask` variation
    /// is given to the sandbox child (`BuildEnvironmentVariation.childUmask`): this process's umask
    /// is never changed, so a repro may run beside other builds.
    public static func reproduce(_ r: RecipeReproRequest) throws -> (outcome: ReproOutcome, directory: String) {
        try r.variations.environment.validate()
        return try rebuild(r)
    }

    static func rebuild(_ r: RecipeReproRequest) throws -> (outcome: ReproOutcome, directory: String) {
        let (recipePath, variant, outputRoot, variations, env) = (r.recipePath, r.variant, r.outputRoot, r.variations, r.variations.environment)
        let (signer, logPath, published, diffoscope) = (r.signer, r.logPath, r.published, r.diffoscope)
        // The rebuild installs the same build-time packages the published build had: from the
        // published repository, signature-checked (a fresh work directory has no trees of its own).
        let repo = r.publishedRepository ?? "\(outputRoot)/packages"
        let builder = Builder(progress: Progress(quiet: true), installer: try APKBuildInstaller(repository: repo, signer: signer))
        let recipe = try builder.load(recipePath, lenient: false, variant: variant)
        let label = recipe.package.name + (variant.map { "@\($0)" } ?? "")
        let dir = "\(outputRoot)/repro/\(recipe.package.name)\(variant.map { "-\($0)" } ?? "")"
        // build-path: a fresh output directory with a different name each time; otherwise a fixed one.
        let work = variations.names.contains("build-path")
            ? "\(dir)/work-varied-\(getpid())-\(UInt32.random(in: 0...UInt32.max))" : "\(dir)/work"
        try? FileManager.default.removeItem(atPath: work)
        defer { try? FileManager.default.removeItem(atPath: work) }
        var req = BuildRequest(recipePath: recipePath, outputDirectory: work)   // arch: the host
        req.sourceCache = r.sourceCache ?? outputRoot + "/sources"      // the same digest-checked sources
        req.variant = variant
        req.toolchain = r.toolchain
        req.variation = env
        let result: BuildResult
        do { result = try builder.build(req) } catch let f as BuildFailure {
            if let logPath, let d = FileManager.default.contents(atPath: f.logPath) { try? AtomicFile.write(d, to: logPath) }
            throw f
        }
        if let logPath, let d = FileManager.default.contents(atPath: result.log) { try? AtomicFile.write(d, to: logPath) }
        try PackageStage.stampFIPSModules(result, registryPath: r.fipsRegistry, progress: Progress(quiet: true))   // as kiln build does before packaging
        let rebuiltRepo = "\(dir)/rebuilt"
        var pairs: [ReproPair] = []
        let context = PackagingContext(signer: signer, distro: r.distro, supplier: r.supplier)
        for (m, rebuilt) in try PackageStage.writePackages(result, repository: rebuiltRepo, context: context) {
            let file = (rebuilt.path as NSString).lastPathComponent
            let pub = published?[m.name] ?? "\(repo)/\(result.arch)/\(file)"
            guard FileManager.default.fileExists(atPath: pub) else {
                throw KilnMessage("no published package \(pub) to compare with: build it first (kiln build / kiln nightly) or pass --against REPO")
            }
            var cmp = try Differ.compare(try ArtifactLoader.load(pub), try ArtifactLoader.load(rebuilt.path))
            if diffoscope && !cmp.reproducible { cmp.diffoscopeReport = runDiffoscope(pub, rebuilt.path, html: "\(dir)/diffoscope-\(m.name).html") }
            pairs.append(ReproPair(name: file, comparison: cmp))
        }
        return (ReproOutcome(target: label, variant: variant ?? "standard", variations: variations, pairs: pairs), dir)
    }
}

/// Runs diffoscope on a differing pair when it is installed; returns the HTML report's path.
public func runDiffoscope(_ a: String, _ b: String, html: String) -> String? {
    guard Subprocess.which("diffoscope") != nil else {
        Progress.shared.log("kiln: diffoscope is not installed; skipping --diffoscope")
        return nil
    }
    try? FileManager.default.createDirectory(atPath: (html as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    _ = try? Subprocess("diffoscope", ["--html", html, a, b], environment: ProcessInfo.processInfo.environment).run()
    return FileManager.default.fileExists(atPath: html) ? html : nil
}
