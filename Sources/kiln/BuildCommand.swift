import ArgumentParser
import Foundation
import KilnBuild
import KilnCore
import KilnPipeline

struct BuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build melange-dialect recipes from source in a bubblewrap sandbox into package trees.",
        discussion: "Trees land in <out>/trees/<arch>/<package>/ (one per package and subpackage) with a machine-readable "
            + "<out>/trees/<arch>/<name>.build.json; logs in <out>/logs/. Unless --no-package, every tree becomes a signed .apk "
            + "in the repository and its APKINDEX.tar.gz is re-signed.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var location: BuildLocationOptions
    @OptionGroup var packaging: PackagingOptions

    @Argument(help: "Recipe files (built in dependency order).")
    var recipes: [String]

    @OptionGroup var arch: ArchOption
    @OptionGroup var toolchain: ToolchainOption
    @OptionGroup var variant: VariantOption
    @OptionGroup var pipelines: PipelineDirOption
    @OptionGroup var lenient: LenientOption
    @OptionGroup var offline: OfflineOption
    @OptionGroup var workspace: WorkspaceOptions
    @OptionGroup var fipsRegistry: FIPSRegistryOption

    @Option(name: .long, help: "SOURCE_DATE_EPOCH (default: $SOURCE_DATE_EPOCH, else the recipe's git commit time, else 0).")
    var sourceDateEpoch: Int64?

    @Flag(name: .long, help: "Print the build results as JSON on stdout.")
    var json = false

    @Flag(name: .long, help: "Run the recipes' test: blocks after building (like `kiln test`).")
    var test = false

    @Flag(name: .long, help: "Rerun a failed build from its failed step in the workspace it kept, when every input is unchanged. A resumed build's trees are flagged and never packaged.")
    var resume = false

    func run() throws {
        var req = BuildRequest(recipePath: "", outputDirectory: location.out, arch: arch.arch)
        req.sourceCache = location.sourceCache
        req.variant = variant.variant
        req.sourceDateEpoch = sourceDateEpoch
        req.keepWorkspace = workspace.keepWorkspace
        req.pipelineDirectories = pipelines.pipelineDir
        req.lenient = lenient.lenient
        req.download = !offline.offline
        req.sourceDirectory = workspace.sourceDir
        req.resume = resume
        var request = BuildPipelineRequest(recipes: recipes, build: req)
        request.toolchain = toolchain.given ?? ToolchainChoice.auto
        request.runTests = test
        request.fipsRegistry = fipsRegistry.path
        request.toolchainLock = toolchain.lockPath
        request.packaging = packaging.noPackage ? nil : packaging.pipelinePackaging(out: location.out)
        let results = try BuildPipeline.run(request) { event in
            switch event {
            case .built(let result):
                for p in result.packages where !json { print("built \(p.name) \(p.fullVersion) (\(result.arch), \(result.variant)) → \(p.tree)") }
            case .tested(let o): if !json { printOutcome(o) }
            case .packaged(let out): Progress.shared.log("packaged \(out.path) (\(out.checksum))")
            case .indexed(let path, let count): Progress.shared.log("indexed \(path): \(count) packages")
            }
        }
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try enc.encode(results), as: UTF8.self))
        }
    }
}

/// Whether `--toolchain` names the pinned Debian root (see `ToolchainSpec`).
func isDebianToolchain(_ spec: String) -> Bool { ToolchainSpec.isDebian(spec) }
