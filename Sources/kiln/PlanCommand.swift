import ArgumentParser
import Foundation
import KilnBuild
import KilnCore
import KilnRecipe

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Parse and plan recipes (every variant, and their test: blocks) without building.",
        discussion: """
            Prints one tab-separated line per recipe (`ok FILE VARIANTS` or `fail FILE CATEGORY MESSAGE`) \
            and one per test block (`test-ok` / `test-fail`), then a summary on stderr. Exit status 1 \
            when a recipe or a test block does not plan. Directories stand for their *.yaml files.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var pipelines: PipelineDirOption
    @OptionGroup var arch: ArchOption
    @OptionGroup var lenient: LenientOption
    @Argument(help: "Recipe files or directories of recipes.") var recipes: [String]

    func run() throws {
        let summary = try PlanCatalog.run(recipes, pipelineDirectories: pipelines.pipelineDir, arch: arch.arch, lenient: lenient.lenient) { check in
            for l in check.lines { print(l) }
        }
        FileHandle.standardError.write(Data("kiln plan: \(summary.line)\n".utf8))
        if summary.planned < summary.recipes || summary.testBlocksPlanned < summary.testBlocks {
            throw ExitStatus(code: 1, message: "\(summary.recipes - summary.planned) recipe(s) and "
                             + "\(summary.testBlocks - summary.testBlocksPlanned) test block(s) did not plan")
        }
    }
}
