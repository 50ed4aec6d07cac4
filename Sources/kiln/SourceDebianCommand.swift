import ArgumentParser
import Foundation
import KilnBuild
import KilnCore

/// `kiln source debian`: fill the source cache from Debian's archive by content (`make sources`).
struct SourceDebianCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "debian",
        abstract: "Fetch the files of recipes/debian-sources.txt from Debian's archive with apt, by digest.",
        discussion: "A source file is looked up by package and upstream version and accepted from any Debian revision whose file has the pinned sha256; a binary package by the sha256 of its .deb. When the archive no longer has a file with the pinned digest, the error names the recipe and says to run `kiln update`. Source look-ups add a temporary deb-src entry beside apt's Debian sources (needs root); nothing is asked when every file is cached.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var location: BuildLocationOptions
    @OptionGroup var debian: DebianListOptions

    func run() throws {
        let fetcher = DebianSourceFetcher(list: try DebianSourceList.load(debian.list), cache: SourceCache(root: location.sourceCacheDirectory),
                                          recipesDirectory: debian.recipes)
        try fetcher.fetchMissing()
    }
}

/// Where the Debian source list and the recipes are (`kiln source debian`, `kiln update`).
struct DebianListOptions: ParsableArguments {
    @Option(name: .long, help: "The list of Debian files the recipes pin.") var list = "recipes/debian-sources.txt"
    @Option(name: .long, help: "The recipe directory (searched for the pins; every recipe there when none is named).") var recipes = "recipes"
}
