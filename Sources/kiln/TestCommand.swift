import ArgumentParser
import Foundation
import KilnBuild
import KilnCore
import KilnRecipe

struct TestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run recipes' test: blocks in a sandbox holding the built packages (after `kiln build`).",
        discussion: """
            Each package with a test: block is tested in a fresh sandbox whose root is the toolchain root
            with the package's tree (and the trees of test.environment.contents.packages that kiln built)
            laid over it. Pipelines kiln does not know are reported as skipped, not as failures.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var location: BuildLocationOptions

    @Argument(help: "Recipe files.")
    var recipes: [String]

    @Option(name: .long, help: "Architecture of the trees to test.")
    var arch: String = Architecture.host

    @Option(name: .long, help: "Directory of extra pipelines for `uses:` (repeatable).")
    var pipelineDir: [String] = []

    @Option(name: .long, help: "Toolchain root: `host` or a root directory.")
    var toolchain: String = "host"

    @Option(name: .long, help: "Build variant (a build option of the recipe).")
    var variant: String?

    @Flag(name: .long, help: "Warn about unknown recipe keys instead of failing.")
    var lenient = false

    @Option(name: .long, help: "Directory with files for the tests; default <recipe dir>/<package name>/.")
    var sourceDir: String?

    @Flag(name: .long, help: "Keep the test workspace.")
    var keepWorkspace = false

    func run() throws {
        let builder = Builder(progress: Progress.shared)
        let tc = try resolveToolchain(toolchain)
        for path in recipes {
            var req = BuildRequest(recipePath: path, outputDirectory: location.out, arch: arch)
            req.sourceCache = location.sourceCache
            req.variant = variant
            req.pipelineDirectories = pipelineDir
            req.toolchain = tc
            req.lenient = lenient
            req.sourceDirectory = sourceDir
            req.keepWorkspace = keepWorkspace
            for o in try builder.test(req) { printOutcome(o) }
        }
    }
}

func printOutcome(_ o: TestOutcome) {
    print("test \(o.package): passed (\(o.stepsRun) step\(o.stepsRun == 1 ? "" : "s")\(o.skipped.isEmpty ? "" : ", \(o.skipped.count) skipped"))")
    for s in o.skipped { print("  \(s)") }
}
