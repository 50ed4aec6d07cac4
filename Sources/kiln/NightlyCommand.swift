import ArgumentParser
import Foundation
import KilnCore
import KilnNightly
import KilnRecipe
import KilnRegistry

/// `kiln nightly`: the whole catalog in dependency order, rebuilding only what changed.
/// Exit status: 0 all good, 1 some nodes failed (or were blocked / not run), 2 kiln could not run.
struct NightlyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nightly",
        abstract: "Rebuild the catalog in dependency order, only what changed; write a JSON + HTML report (exit 0 ok, 1 failures, 2 could not run).",
        discussion: "Every recipe variant (standard and each build option) is a node; a node is rebuilt when its input key "
            + "(recipe bytes, expanded steps, pipelines, source digests, patches, toolchain lock, variant, kiln version, keys of "
            + "what is installed into its build root) differs from its last successful build stored under <out>/nightly/state/. "
            + "Reports: <out>/reports/<run-id>/report.json and report.html, and <out>/reports/index.html for all runs.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var location: BuildLocationOptions
    @OptionGroup var packaging: PackagingOptions
    @OptionGroup var arch: ArchOption
    @OptionGroup var toolchain: ToolchainOption
    @OptionGroup var pipelines: PipelineDirOption
    @OptionGroup var offline: OfflineOption
    @OptionGroup var fipsRegistry: FIPSRegistryOption

    @Option(name: .long, help: "Recipe directory.")
    var recipes: String = "recipes"

    @Option(name: .long, help: "Image config directory (default: <recipes>/images when it exists).")
    var images: String?

    @Flag(name: .long, help: "Packages only: no image nodes even when <recipes>/images exists.")
    var noImages = false

    @Option(name: .long, help: "Builds at once (default: the number of CPUs).")
    var jobs: Int?

    @Flag(name: .long, help: "Keep building independent nodes after a failure.")
    var keepGoing = false

    @Option(name: .long, parsing: .upToNextOption, help: "Only these nodes (names or ids) and what they depend on.")
    var only: [String] = []

    @Flag(name: .long, help: "Print the plan (what will build and why) and exit.")
    var dryRun = false

    @Option(name: .long, help: "Re-verify this percentage of the packages built in the run (at least one) with `kiln repro`.")
    var reproSample: Double?

    @Option(name: .long, help: "ECDSA key that signs the images (as `kiln sign --key`); its .pub verifies them.")
    var imageKey: String = "keys/cosign-dev.key"

    @Flag(name: .long, help: "First bump the recipes fed from Debian's archive (`kiln update --write`) and, with --toolchain debian, resolve the toolchain anew; the run then rebuilds what moved and the report lists it under \"updates\".")
    var update = false

    @Option(name: .long, help: "The list of Debian files the recipes pin (for --update; default <recipes>/debian-sources.txt).")
    var debianSources: String?

    @Option(name: .long, help: "After the run, push every image that was rebuilt (and verified) to REGISTRY/PREFIX/NAME:TAG.")
    var push: String?

    @OptionGroup var registry: RegistryCLIOptions

    @OptionGroup var distributed: DistributedOptions

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
        let jobs = self.jobs ?? max(1, ProcessInfo.processInfo.activeProcessorCount)
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
        if let p = reproSample, !(p > 0 && p <= 100) { throw ValidationError("--repro-sample takes a percentage in (0, 100]") }
        if noImages && images != nil { throw ValidationError("--no-images and --images exclude each other") }
        let outAbs = absolutePath(location.out)
        var options = NightlyOptions(outputRoot: outAbs)
        options.jobs = jobs
        options.keepGoing = keepGoing
        options.only = only
        options.reproSamplePercent = reproSample
        // Images: --images DIR, or <recipes>/images when it exists.
        let imageDir = noImages ? nil : images ?? (FileManager.default.fileExists(atPath: recipes + "/images") ? recipes + "/images" : nil)
        var request = NightlyRequest(recipes: recipes, images: imageDir, options: options, arch: arch.arch, toolchain: toolchain.toolchain,
                                     signer: SignerBox(packaging.noPackage || dryRun ? nil : try packaging.signer()),
                                     repository: packaging.repository.map(absolutePath) ?? outAbs + "/packages",
                                     packageKey: absolutePath(packaging.signingKey) + ".pub", imageKey: absolutePath(imageKey))
        request.pipelineDirectories = pipelines.pipelineDir
        request.download = !offline.offline
        request.sourceCache = location.sourceCache.map(absolutePath)
        request.distro = packaging.distro
        request.supplier = packaging.supplier
        request.fipsRegistry = fipsRegistry.path
        request.toolchainLock = toolchain.lockPath
        try distributed.apply(to: &request, outputRoot: outAbs)
        if update { request.updateList = debianSources ?? recipes + "/debian-sources.txt" }
        if dryRun { return print(try NightlyLaunch.plan(request).render(), terminator: "") }
        if let dir = try distributed.argoDirectory() {
            let r = try NightlyLaunch.emitArgo(request, store: distributed.storeSpec(outputRoot: outAbs), directory: dir, image: distributed.argoImage)
            return print("argo: \(r.tasks) package task(s) → \(r.path)")
        }
        let runner = try NightlyLaunch.runner(request)
        let (report, dir) = try runner.runHandlingInterrupts()
        for line in report.summaryLines(directory: dir) { print(line) }
        if let push {
            _ = try NightlyLaunch.publish(report: report, outputRoot: outAbs, prefix: push,
                                          options: registry.registryOptions(quiet: true)) { print($0.line) }
        }
        if report.exitStatus != 0 { throw ExitCode(report.exitStatus) }
    }
}
