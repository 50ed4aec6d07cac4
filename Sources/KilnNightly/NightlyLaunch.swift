import Foundation
import KilnAPK
import KilnBuild
import KilnCore
import KilnRepro

/// Everything one `kiln nightly` run needs, explicit (absolute paths, keys, toolchain, packaging)
/// instead of working-directory defaults: the CLI parses options into this and calls
/// `NightlyLaunch.run` (or `plan` for `--dry-run`).
public struct NightlyRequest: Sendable {
    /// The recipe directory.
    public var recipes: String
    /// The image config directory (nil: packages only).
    public var images: String?
    /// Scheduling options; `outputRoot` is the absolute output directory.
    public var options: NightlyOptions
    /// Target architecture.
    public var arch: String
    /// `--toolchain`: `host`, `debian` or a root directory (see `ToolchainSpec`).
    public var toolchain: String
    /// The committed Debian toolchain lock (for `--toolchain debian`).
    public var toolchainLock: String?
    /// Extra pipeline directories.
    public var pipelineDirectories: [String] = []
    /// The content-addressed source cache (default `<out>/sources`).
    public var sourceCache: String?
    /// Whether sources may be downloaded.
    public var download = true
    /// Signs the packages (nil signer: `--no-package`, trees only, no repro checks).
    public var signer: SignerBox
    /// The APK repository root (absolute).
    public var repository: String
    /// The public key trusted for the repository's packages when images install them.
    public var packageKey: String
    /// The ECDSA key that signs the images.
    public var imageKey: String
    /// Purl distro.
    public var distro: String = "kiln"
    /// SBOM supplier.
    public var supplier: String?
    /// The FIPS module registry file that labels provider trees (`--fips-registry`).
    public var fipsRegistry: String?
    /// `--update`: the list of Debian files the recipes pin (nil: no update step).
    public var updateList: String?
    /// `--executor slurm`: package nodes run as Slurm jobs over a shared store (nil: in this process).
    public var slurm: SlurmSettings?

    /// A request with the required parts.
    public init(recipes: String, images: String?, options: NightlyOptions, arch: String, toolchain: String,
                signer: SignerBox, repository: String, packageKey: String, imageKey: String) {
        self.recipes = recipes; self.images = images; self.options = options; self.arch = arch; self.toolchain = toolchain
        self.signer = signer; self.repository = repository; self.packageKey = packageKey; self.imageKey = imageKey
    }
}

/// One nightly run over a request: the catalog loaders, the two node executors, the repro check.
public enum NightlyLaunch {
    /// The plan (what will build and why) without building anything.
    public static func plan(_ r: NightlyRequest) throws -> Plan {
        let tc = try ToolchainSpec.resolve(r.toolchain, out: r.options.outputRoot, lockPath: r.toolchainLock)
        let runner = NightlyRunner(loader: loader(r, toolchain: tc), executor: ClosureExecutor { _ in throw KilnMessage("dry run") },
                                   options: r.options)
        return try runner.plan()
    }

    /// A runner for the request (the `--update` step, when asked for, runs first); call `run()` on
    /// it, and `cancel()` from a signal handler.
    public static func runner(_ r: NightlyRequest, progress: KilnCore.Progress = .shared) throws -> NightlyRunner {
        var options = r.options
        let tc: Toolchain
        if let list = r.updateList {
            let bumped = try NightlyUpdate.bumpRecipes(recipes: r.recipes, list: list, cache: SourceCache(root: r.sourceCache ?? options.outputRoot + "/sources"))
            if ToolchainSpec.isDebian(r.toolchain) {
                let (t, moved) = try NightlyUpdate.refreshToolchain(ToolchainBootstrap(lockPath: try ToolchainSpec.requireLock(r.toolchainLock, r.toolchain), outDir: options.outputRoot,
                                                                                       mode: LockMode.resolve.honouringEnvironment()))
                tc = t; options.updates = bumped + moved
            } else {
                tc = try ToolchainSpec.resolve(r.toolchain, out: options.outputRoot, lockPath: r.toolchainLock); options.updates = bumped
            }
            progress.log("nightly: --update picked up \(options.updates?.count ?? 0) update(s)")
        } else {
            tc = try ToolchainSpec.resolve(r.toolchain, out: options.outputRoot, lockPath: r.toolchainLock)
        }
        var recipeExecutor = RecipeNodeExecutor(arch: r.arch, toolchain: tc, pipelineDirectories: r.pipelineDirectories, download: r.download,
                                         signer: r.signer, repository: r.repository, distro: r.distro, supplier: r.supplier)
        recipeExecutor.sourceCache = r.sourceCache
        recipeExecutor.fipsRegistry = r.fipsRegistry
        let recipes = recipeExecutor
        var imageExecutor = ImageNodeExecutor(repository: r.repository, packageKey: r.packageKey, imageKey: r.imageKey)
        imageExecutor.fipsRegistry = r.fipsRegistry
        let images = imageExecutor
        let local = ClosureExecutor { ctx in
            ctx.node.kind == .image ? try images.execute(ctx) : try recipes.execute(ctx)
        }
        let executor: NodeExecutor
        if let s = r.slurm {
            executor = try SlurmExecutor(settings: s, base: try workerBase(r, outputRoot: options.outputRoot), signer: r.signer, local: local)
        } else {
            executor = local
        }
        return NightlyRunner(loader: loader(r, toolchain: tc), executor: executor, options: options, progress: progress,
                             reproVerifier: options.reproSamplePercent == nil ? nil : verifier(r, toolchain: tc))
    }

    /// The run-wide part of the worker plan (no nodes, no run id).
    static func workerBase(_ r: NightlyRequest, outputRoot: String) throws -> NightlyWorkerPlan {
            guard let key = r.signer.signer else { throw KilnMessage("a distributed run packages what it builds: give --signing-key (not --no-package)") }
            let pem = String(decoding: try key.key.publicKey.pem(), as: UTF8.self)
            return NightlyWorkerPlan(runID: "", arch: r.arch, toolchain: r.toolchain, toolchainLock: r.toolchainLock,
                                         pipelineDirectories: r.pipelineDirectories, sourceCache: r.sourceCache ?? outputRoot + "/sources",
                                         download: r.download, packageKeyName: key.keyName, packageKeyPEM: pem, repository: r.repository,
                                         outputRoot: outputRoot, distro: r.distro, supplier: r.supplier, nodes: [:],
                                         fipsRegistry: r.fipsRegistry)
    }

    /// `kiln nightly --emit argo DIR`: plans, pushes the worker plan into `store`, and writes
    /// `DIR/workflow.json` (checked by `ArgoWorkflow.problems`); returns its path and task count.
    public static func emitArgo(_ r: NightlyRequest, store spec: String, directory: String, image: String?) throws -> (path: String, tasks: Int) {
        let plan = try self.plan(r)
        let runID = "argo-" + NightlyRunner.rfc3339(Date()).replacingOccurrences(of: ":", with: "")
        let store = try NightlyStores.open(spec)
        let location = try store.writePlan(try workerBase(r, outputRoot: r.options.outputRoot).filled(plan: plan, runID: runID))
        var settings = ArgoWorkflow.Settings(store: store.locator, planLocation: location)
        if let image { settings.image = image }
        let wf = try ArgoWorkflow.make(plan: plan, settings: settings, runID: runID)
        let problems = ArgoWorkflow.problems(wf)
        guard problems.isEmpty else { throw KilnMessage("internal: the Argo workflow kiln made is unsound: \(problems.joined(separator: "; "))") }
        let path = directory + "/workflow.json"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try AtomicFile.write(wf.pretty(), to: path)
        return (path, wf["spec"]?["templates"]?.array?.first?["dag"]?["tasks"]?.array?.count ?? 0)
    }

    static func loader(_ r: NightlyRequest, toolchain: Toolchain) -> CatalogLoader {
        let recipeLoader = RecipeCatalogLoader(directory: r.recipes, arch: r.arch, toolchain: toolchain, pipelineDirectories: r.pipelineDirectories,
                                               cacheFile: r.options.outputRoot + "/nightly/catalog-cache.json")
        return r.images.map { CombinedCatalog([recipeLoader, ImageCatalogLoader(directory: $0)]) } ?? recipeLoader
    }

    /// The repro check of a built recipe node: `kiln repro` with every variation, against the
    /// nightly's repository (standard packages) or the variant's published packages.
    static func verifier(_ r: NightlyRequest, toolchain: Toolchain) -> ReproVerifier {
        let (signerBox, outputRoot, repository, distro, supplier, cache, fipsRegistry) = (r.signer, r.options.outputRoot, r.repository, r.distro, r.supplier, r.sourceCache, r.fipsRegistry)
        return { node, _, logPath in
            guard let payload = node.payload as? RecipeNodePayload, let signer = signerBox.signer else {
                throw KilnMessage("\(node.id): only packaged recipe nodes can be re-verified")
            }
            var request = RecipeReproRequest(recipePath: payload.recipePath, variant: payload.variant, outputRoot: outputRoot,
                                             publishedRepository: payload.variant == nil ? repository : nil,
                                             variations: try ReproVariations("all"), toolchain: toolchain, signer: signer,
                                             distro: distro, supplier: supplier)
            request.logPath = logPath
            request.sourceCache = cache
            request.fipsRegistry = fipsRegistry
            let o = try RecipeRepro.reproduce(request).outcome
            return .init(node: node.id, reproducible: o.reproducible, verdict: o.verdict, differingEntries: o.differingEntries)
        }
    }
}

extension RunReport {
    /// The lines `kiln nightly` prints at the end: the summary, the report's path, one per failure.
    public func summaryLines(directory dir: String) -> [String] {
        let s = summary
        var lines = ["nightly \(runID): \(s.built) built, \(s.unchanged) unchanged, \(s.failed) failed, \(s.blocked) blocked, \(s.notRun) not run"
                     + (repro.isEmpty ? "" : ", repro \(s.reproChecked - s.reproFailed)/\(s.reproChecked) reproducible")
                     + " in \(KilnCore.Progress.format(durationSeconds))",
                     "report: \(dir)/report.html"]
        for n in nodes where n.status == .failed {
            lines.append("failed: \(n.id): \(n.error?.split(separator: "\n").first.map(String.init) ?? "")" + (n.log.map { " (log: \(dir)/\($0))" } ?? ""))
        }
        return lines
    }
}
