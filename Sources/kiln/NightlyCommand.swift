import ArgumentParser
import Dispatch
import Foundation
import KilnOCI
import KilnPipeline
import KilnAPK
import KilnAttest
import KilnImage
import KilnBuild
import KilnCore
import KilnCrypto
import KilnNightly
import KilnRecipe
import KilnRegistry
import KilnRepro

/// `kiln nightly`: the whole catalog in dependency order, rebuilding only what changed.
/// Exit status: 0 all good, 1 some nodes failed (or were blocked / not run), 2 kiln could not run.
struct NightlyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nightly",
        abstract: "Rebuild the catalog in dependency order, only what changed; write a JSON + HTML report (exit 0 ok, 1 failures, 2 could not run).",
        discussion: """
        Every recipe variant (standard and each build option) is a node; a node is rebuilt when its
        input key (recipe bytes, expanded steps, pipelines, source digests, patches, toolchain lock,
        variant, kiln version, keys of what is installed into its build root) differs from its last
        successful build stored under <out>/nightly/state/. Reports: <out>/reports/<run-id>/report.json
        and report.html, and <out>/reports/index.html for all runs.
        """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var packaging: PackagingOptions

    @Option(name: .long, help: "Recipe directory.")
    var recipes: String = "recipes"

    @Option(name: .long, help: "Image config directory (default: <recipes>/images when it exists).")
    var images: String?

    @Flag(name: .long, help: "Packages only: no image nodes even when <recipes>/images exists.")
    var noImages = false

    @Option(name: .long, help: "Output directory.")
    var out: String = "out"

    @Option(name: .long, help: "Builds at once (default: number of CPUs).")
    var jobs: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)

    @Flag(name: .long, help: "Keep building independent nodes after a failure.")
    var keepGoing = false

    @Option(name: .long, parsing: .upToNextOption, help: "Only these nodes (names or ids) and what they depend on.")
    var only: [String] = []

    @Flag(name: .long, help: "Print the plan (what will build and why) and exit.")
    var dryRun = false

    @Option(name: .long, help: "Re-verify this percentage of the packages built in the run (at least one) with `kiln repro`.")
    var reproSample: Double?

    @Option(name: .long, help: "Toolchain root: `host`, `debian` (the pinned bookworm root) or a root directory.")
    var toolchain: String = "host"

    @Option(name: .long, help: "Target architecture.")
    var arch: String = Architecture.host

    @Option(name: .long, help: "Directory of extra pipelines (repeatable).")
    var pipelineDir: [String] = []

    @Flag(name: .long, help: "Never download: every source must already be in the cache.")
    var offline = false

    @Option(name: .long, help: "ECDSA key that signs the images (as `kiln sign --key`); its .pub verifies them.")
    var imageKey: String = "keys/cosign-dev.key"

    @Flag(name: .long, help: "First bump the recipes fed from Debian's archive (`kiln update --write`) and, with --toolchain debian, resolve the toolchain anew; the run then rebuilds what moved and the report lists it under \"updates\".")
    var update = false

    @Option(name: .long, help: "The list of Debian files the recipes pin (for --update; default <recipes>/debian-sources.txt).")
    var debianSources: String?

    @Option(name: .long, help: "After the run, push every image that was rebuilt (and verified) to REGISTRY/PREFIX/NAME:TAG.")
    var push: String?

    @OptionGroup var registry: RegistryCLIOptions

    func run() throws {
        do {
            try runNightly()
        } catch let e as ExitCode {
            throw e
        } catch let e as ExitStatus {
            throw e
        } catch {
            throw ExitStatus(code: 2, message: "\(error)")
        }
    }

    func runNightly() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
        if let p = reproSample, !(p > 0 && p <= 100) { throw ValidationError("--repro-sample takes a percentage in (0, 100]") }
        let outAbs = absolutePath(out)
        var updates: [RunReport.Update]?
        var tc: Toolchain
        if update && !dryRun {
            let bumped = try NightlyUpdate.bumpRecipes(recipes: recipes, list: debianSources ?? recipes + "/debian-sources.txt",
                                                       cache: SourceCache(root: outAbs + "/sources"))
            if isDebianToolchain(toolchain) {
                let (t, moved) = try NightlyUpdate.refreshToolchain(ToolchainBootstrap(lockPath: DebianToolchain.defaultLockPath, outDir: out,
                                                                                       mode: LockMode.resolve.honouringEnvironment()))
                tc = t; updates = bumped + moved
            } else { tc = try resolveToolchain(toolchain, out: out); updates = bumped }
            Progress.shared.log("nightly: --update picked up \(updates!.count) update(s)")
        } else {
            tc = try resolveToolchain(toolchain, out: out)
        }
        let recipeLoader = RecipeCatalogLoader(directory: recipes, arch: arch, toolchain: tc, pipelineDirectories: pipelineDir,
                                               cacheFile: outAbs + "/nightly/catalog-cache.json")
        // Images: --images DIR, or <recipes>/images when it exists.
        if noImages && images != nil { throw ValidationError("--no-images and --images exclude each other") }
        let imageDir = noImages ? nil : images ?? (FileManager.default.fileExists(atPath: recipes + "/images") ? recipes + "/images" : nil)
        let loader: CatalogLoader = imageDir.map { CombinedCatalog([recipeLoader, ImageCatalogLoader(directory: $0)]) } ?? recipeLoader
        var options = NightlyOptions(outputRoot: outAbs)
        options.jobs = jobs
        options.keepGoing = keepGoing
        options.only = only
        options.reproSamplePercent = reproSample
        options.updates = updates
        let progress = Progress.shared
        if dryRun {
            let runner = NightlyRunner(loader: loader, executor: ClosureExecutor { _ in throw KilnMessage("dry run") }, options: options)
            print(try runner.plan().render(), terminator: "")
            return
        }
        let recipeExecutor = RecipeNodeExecutor(arch: arch, toolchain: tc, pipelineDirectories: pipelineDir, download: !offline,
                                                signer: SignerBox(packaging.noPackage ? nil : try packaging.signer()),
                                                repository: packaging.repository.map(absolutePath) ?? outAbs + "/packages",
                                                distro: packaging.distro, supplier: packaging.supplier)
        let imageExecutor = ImageNodeExecutor(repository: recipeExecutor.repository,
                                              packageKey: absolutePath(packaging.signingKey) + ".pub",
                                              imageKey: absolutePath(imageKey))
        let executor = ClosureExecutor { ctx in
            ctx.node.kind == .image ? try imageExecutor.execute(ctx) : try recipeExecutor.execute(ctx)
        }
        let repoAbs = packaging.repository.map(absolutePath) ?? outAbs + "/packages"
        let signerBox = recipeExecutor.signer
        let verifier: ReproVerifier = { node, _, logPath in
            guard let payload = node.payload as? RecipeNodePayload, let signer = signerBox.signer else {
                throw KilnMessage("\(node.id): only packaged recipe nodes can be re-verified")
            }
            var request = RecipeReproRequest(recipePath: payload.recipePath, variant: payload.variant, outputRoot: outAbs,
                                             publishedRepository: payload.variant == nil ? repoAbs : nil,
                                             variations: try ReproVariations("all"), toolchain: tc, signer: signer,
                                             distro: packaging.distro, supplier: packaging.supplier)
            request.logPath = logPath
            let o = try RecipeRepro.reproduce(request).outcome
            return .init(node: node.id, reproducible: o.reproducible, verdict: o.verdict, differingEntries: o.differingEntries)
        }
        let runner = NightlyRunner(loader: loader, executor: executor, options: options, progress: progress,
                                   reproVerifier: reproSample == nil ? nil : verifier)

        // Ctrl-C / SIGTERM: start nothing new, let running builds end, write the report; finished
        // nodes are already stored, so the next run resumes.
        signal(SIGINT, SIG_IGN); signal(SIGTERM, SIG_IGN)
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler {
                progress.log("nightly: interrupted — waiting for running builds, then writing the report")
                runner.cancel()
            }
            s.resume()
            sources.append(s)
        }
        defer { for s in sources { s.cancel() } }

        let (report, dir) = try runner.run()
        let s = report.summary
        print("nightly \(report.runID): \(s.built) built, \(s.unchanged) unchanged, \(s.failed) failed, \(s.blocked) blocked, \(s.notRun) not run"
              + (report.repro.isEmpty ? "" : ", repro \(s.reproChecked - s.reproFailed)/\(s.reproChecked) reproducible")
              + " in \(Progress.format(report.durationSeconds))")
        print("report: \(dir)/report.html")
        for n in report.nodes where n.status == .failed {
            print("failed: \(n.id): \(n.error?.split(separator: "\n").first.map(String.init) ?? "")" + (n.log.map { " (log: \(dir)/\($0))" } ?? ""))
        }
        if let push {
            for n in report.nodes where n.kind == .image && n.status == .built {
                for path in Set(n.outputs.map(\.path)) {
                    for (dest, r) in try RegistryPush.publish(layout: outAbs + "/" + path, prefix: push, options: registry.registryOptions(quiet: true)) {
                        print("pushed \(dest) \(r.digest): \(r.uploaded) blob(s) uploaded, \(r.existing) already there")
                    }
                }
            }
        }
        if report.exitStatus != 0 { throw ExitCode(report.exitStatus) }
    }
}

func absolutePath(_ p: String) -> String {
    p.hasPrefix("/") ? p : FileManager.default.currentDirectoryPath + "/" + p
}

/// The signer, shared by concurrent package builds (signing only reads the key).
final class SignerBox: @unchecked Sendable {
    let signer: APKSigner?
    init(_ s: APKSigner?) { signer = s }
}

/// Builds one recipe node exactly as `kiln build` does: sandboxed build (build-time packages from
/// the repository, as `kiln build` installs them), then a signed .apk per package in the repository
/// and a re-signed APKINDEX. Variants build their trees in their own output directory
/// (`<out>/variants/<name>/`) and put their packages (`-fips` names) in the same repository, as
/// `kiln build --variant` does, so images find them.
struct RecipeNodeExecutor: NodeExecutor {
    var arch: String
    var toolchain: Toolchain
    var pipelineDirectories: [String]
    var download: Bool
    var signer: SignerBox
    var repository: String
    var distro: String
    var supplier: String?

    func execute(_ ctx: NodeContext) throws -> NodeOutcome {
        guard let payload = ctx.node.payload as? RecipeNodePayload else {
            throw KilnMessage("\(ctx.node.file): not a recipe node")
        }
        let base = payload.variant.map { "\(ctx.outputRoot)/variants/\($0)" } ?? ctx.outputRoot
        let repo = repository
        var req = BuildRequest(recipePath: payload.recipePath, outputDirectory: base, arch: arch)
        req.sourceCache = ctx.outputRoot + "/sources"
        req.variant = payload.variant
        req.toolchain = toolchain
        req.pipelineDirectories = pipelineDirectories
        req.download = download
        // Packaging: build-time packages come from the repository (signature-checked), as with
        // `kiln build`; --no-package: from the standard trees (a variant's own trees first).
        let installer: BuildDependencyInstaller = try signer.signer.map { try APKBuildInstaller(repository: repository, signer: $0) }
            ?? TreeDependencyInstaller(treesDirectories: ["\(base)/trees/\(arch)", "\(ctx.outputRoot)/trees/\(arch)"])
        let builder = Builder(progress: Progress(quiet: true), installer: installer)
        let result: BuildResult
        do {
            result = try builder.build(req)
        } catch let f as BuildFailure {
            copyLog(f.logPath, to: ctx.logPath)
            throw f
        }
        copyLog(result.log, to: ctx.logPath)
        try PackageStage.stampFIPSModules(result, progress: Progress(quiet: true))   // as kiln build does before packaging
        var outputs: [OutputRecord] = [], provides: [String] = [], depends: [String] = []
        if let signer = signer.signer {
            let context = PackagingContext(signer: signer, distro: distro, supplier: supplier)
            for (m, o) in try PackageStage.writePackages(result, repository: repo, context: context) {
                let digest = try Digest.hashFile(.sha256, path: o.path).hexString
                outputs.append(OutputRecord(kind: "apk", path: relative(o.path, to: ctx.outputRoot), digest: "sha256:" + digest,
                                            size: Int64(o.fileSize), version: m.fullVersion))
                provides += [m.name] + o.info.provides
                depends += o.info.depends
            }
            _ = try APKRepository.updateIndex(directory: "\(repo)/\(result.arch)", signer: signer)
        } else {
            // --no-package: the build result (trees) is the output.
            let json = "\(base)/trees/\(result.arch)/\(result.package.name).build.json"
            if let d = FileManager.default.contents(atPath: json) {
                outputs.append(OutputRecord(kind: "build-result", path: relative(json, to: ctx.outputRoot),
                                            digest: "sha256:" + (try Digest.sha256Hex(d)), size: Int64(d.count),
                                            version: result.package.fullVersion))
            }
        }
        return NodeOutcome(outputs: outputs, version: result.package.fullVersion, provides: provides, runtimeDependencies: depends)
    }

    func relative(_ path: String, to root: String) -> String {
        path.hasPrefix(root + "/") ? String(path.dropFirst(root.count + 1)) : path
    }

    func copyLog(_ from: String, to: String) {
        guard let d = FileManager.default.contents(atPath: from) else { return }
        try? FileManager.default.createDirectory(atPath: (to as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: to, contents: d + Data("(build log: \(from))\n".utf8))
    }
}

/// Assembles, signs and verifies one image config exactly as `kiln image`, `kiln sign` and
/// `kiln verify` do: both variants into `<out>/images/<name>/` from the nightly repository.
struct ImageNodeExecutor: NodeExecutor {
    var repository: String
    var packageKey: String
    var imageKey: String

    func execute(_ ctx: NodeContext) throws -> NodeOutcome {
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
        }
        var v = Verifier(layout: try OCILayout(path: dest), tag: nil, key: try key.publicKey) { c in
            log += "verify \(c.ok ? "ok " : "FAIL") \(c.check): \(c.detail)\n"
        }
        v.imageVerified = { _ in }
        _ = try v.run()
        let outputs = results.map { r in
            OutputRecord(kind: "image:\(r.variant.rawValue)", path: "images/\(cfg.imageName)", digest: r.manifest.digest,
                         size: r.layers.reduce(0) { $0 + $1.descriptor.size }, version: r.tag)
        }
        return NodeOutcome(outputs: outputs, version: cfg.version)
    }
}
