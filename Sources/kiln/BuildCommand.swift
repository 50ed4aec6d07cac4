import ArgumentParser
import Foundation
import KilnPipeline
import KilnBuild
import KilnCore
import KilnRecipe

/// Options shared by `kiln build`, `kiln source ...` and `kiln test`.
struct BuildLocationOptions: ParsableArguments {
    @Option(name: .long, help: "Output directory (trees, logs, source cache).")
    var out: String = "out"

    @Option(name: .long, help: "Content-addressed source cache (default: <out>/sources).")
    var sourceCache: String?

    var sourceCacheDirectory: String { sourceCache ?? "\(out)/sources" }
}

struct BuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build melange-dialect recipes from source in a bubblewrap sandbox into package trees.",
        discussion: """
            Trees land in <out>/trees/<arch>/<package>/ (one per package and subpackage) with a
            machine-readable <out>/trees/<arch>/<name>.build.json; logs in <out>/logs/.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var location: BuildLocationOptions
    @OptionGroup var packaging: PackagingOptions

    @Argument(help: "Recipe files (built in dependency order).")
    var recipes: [String]

    @Option(name: .long, help: "Target architecture (APK name, e.g. x86_64).")
    var arch: String = Architecture.host

    @Option(name: .long, help: "SOURCE_DATE_EPOCH (default: $SOURCE_DATE_EPOCH, else the recipe's git commit time, else 0).")
    var sourceDateEpoch: Int64?

    @Flag(name: .long, help: "Keep the build workspace (printed) after a failure.")
    var keepWorkspace = false

    @Option(name: .long, help: "Directory of extra pipelines for `uses:` (repeatable; overrides built-ins).")
    var pipelineDir: [String] = []

    @Option(name: .long, help: "Toolchain root: `host` (this machine's /usr, read-only), `debian` (the pinned bookworm root, recipes/toolchain/bookworm.lock) or a root directory.")
    var toolchain: String = "host"

    @Option(name: .long, help: "Build variant: a build option of the recipe (`options:`), e.g. fips. Default: standard.")
    var variant: String?

    @Flag(name: .long, help: "Warn about unknown recipe keys instead of failing (melange rejects them).")
    var lenient = false

    @Flag(name: .long, help: "Never download: every source must already be in the cache.")
    var offline = false

    @Option(name: .long, help: "Directory with files for the build (patches...); default <recipe dir>/<package name>/.")
    var sourceDir: String?

    @Flag(name: .long, help: "Print the build results as JSON on stdout.")
    var json = false

    @Flag(name: .long, help: "Run the recipes' test: blocks after building (like `kiln test`).")
    var test = false

    func run() throws {
        let progress = Progress.shared
        // Parse everything first so that errors show before any build starts (or any key is made), then order.
        var recipesByPath: [(path: String, recipe: Recipe)] = []
        for path in recipes {
            let (r, _) = try RecipeParser(lenient: lenient).parse(path: path)   // warnings are printed by the build
            recipesByPath.append((path, r))
        }
        let builder = Builder(progress: progress, installer: try packaging.installer(out: location.out))
        let ordered = try Builder.order(recipesByPath.map(\.recipe))
        let tc = try resolveToolchain(toolchain, out: location.out)
        try checkFIPSVariantToolchain(variant, tc)   // BuildCommand+FIPS.swift
        var results: [BuildResult] = []
        for r in ordered {
            var req = BuildRequest(recipePath: r.file, outputDirectory: location.out, arch: arch)
            req.sourceCache = location.sourceCache
            req.variant = variant
            req.sourceDateEpoch = sourceDateEpoch
            req.keepWorkspace = keepWorkspace
            req.pipelineDirectories = pipelineDir
            req.toolchain = tc
            req.lenient = lenient
            req.download = !offline
            req.sourceDirectory = sourceDir
            let result = try builder.build(req)
            results.append(result)
            for p in result.packages {
                if !json { print("built \(p.name) \(p.fullVersion) (\(result.arch), \(result.variant)) → \(p.tree)") }
            }
            if test {
                for o in try builder.test(req) where !json { printOutcome(o) }
            }
            try afterBuild(result)
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

/// `--toolchain NAME|DIR` (see `ToolchainSpec.resolve`).
func resolveToolchain(_ spec: String, out: String = "out") throws -> Toolchain { try ToolchainSpec.resolve(spec, out: out) }
