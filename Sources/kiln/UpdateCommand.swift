import ArgumentParser
import Foundation
import KilnBuild
import KilnCore

/// `kiln update`: recipes fed from Debian's archive against what it carries now.
struct UpdateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update",
        abstract: "Compare the recipes fed from Debian's archive with what it carries now; --write bumps them.",
        discussion: "A recipe is fed from Debian when a row of the Debian source list pins a file it fetches. For each, the table gives the pinned version, what the archive has now (apt-cache showsrc / apt-cache show) and the action: up to date, bump, hold (a FIPS module: bumped by hand only) or no feed (an upstream URI Debian does not carry). --write bumps version, resets epoch to 0, fetches the new file into the source cache and rewrites its digest in the recipe and in the list, editing only those lines. Looking up sources adds a temporary deb-src entry beside apt's Debian sources (needs root).")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var location: BuildLocationOptions
    @OptionGroup var debian: DebianListOptions
    @Flag(name: .long, help: "Apply the bumps.") var write = false
    @Flag(name: .long, help: "Print the table as JSON.") var json = false
    @Argument(help: "Recipe files or names (default: every recipe under --recipes).") var names: [String] = []

    func run() throws {
        let files = names.isEmpty ? RecipeUpdater.recipeFiles(in: debian.recipes)
            : names.map { $0.hasSuffix(".yaml") ? $0 : "\(debian.recipes)/\($0).yaml" }
        let updater = RecipeUpdater(list: try DebianSourceList.load(debian.list), cache: SourceCache(root: location.sourceCacheDirectory))
        let plan = try updater.plan(files)
        if json {
            let e = JSONEncoder(); e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try e.encode(plan), as: UTF8.self))
        } else {
            print(RecipeUpdater.table(plan), terminator: "")
        }
        if write { try updater.write(plan) }
    }
}
