import ArgumentParser
import Foundation
import KilnBuild
import KilnPipeline
import KilnCore
import KilnRecipe

struct TestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run recipes' test: blocks in a sandbox holding the built packages (after `kiln build`).",
        discussion: "Each package with a test: block is tested in a fresh sandbox whose root is the toolchain root with the "
            + "package's tree (and the trees of test.environment.contents.packages that kiln built) laid over it. Pipelines "
            + "kiln does not know are reported as skipped, not as failures.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var location: BuildLocationOptions

    @Argument(help: "Recipe files.")
    var recipes: [String]

    @OptionGroup var arch: ArchOption
    @OptionGroup var toolchain: ToolchainOption
    @OptionGroup var variant: VariantOption
    @OptionGroup var pipelines: PipelineDirOption
    @OptionGroup var lenient: LenientOption
    @OptionGroup var workspace: WorkspaceOptions

    func run() throws {
        let builder = Builder(progress: Progress.shared)
        let given = try toolchain.given.map { try ToolchainSpec.resolve($0, out: location.out, lockPath: toolchain.lockPath) }
        for path in recipes {
            let tc = try given ?? ToolchainChoice.forTests(recipePath: path, out: location.out, arch: arch.arch, lenient: lenient.lenient)
            var req = BuildRequest(recipePath: path, outputDirectory: location.out, arch: arch.arch)
            req.sourceCache = location.sourceCache
            req.variant = variant.variant
            req.pipelineDirectories = pipelines.pipelineDir
            req.toolchain = tc
            req.lenient = lenient.lenient
            req.sourceDirectory = workspace.sourceDir
            req.keepWorkspace = workspace.keepWorkspace
            for o in try builder.test(req) { printOutcome(o) }
        }
    }
}

func printOutcome(_ o: TestOutcome) {
    print("test \(o.package): passed (\(o.stepsRun) step\(o.stepsRun == 1 ? "" : "s")\(o.skipped.isEmpty ? "" : ", \(o.skipped.count) skipped"))")
    for s in o.skipped { print("  \(s)") }
}
