import ArgumentParser
import Foundation
import KilnBuild
import KilnCore
import KilnRecipe

struct SourceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "source",
        abstract: "Manage the content-addressed source cache.",
        subcommands: [Add.self, AddGit.self, Fetch.self, List.self, SourceDebianCommand.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put local files into the source cache by digest (fills offline mirrors).")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var location: BuildLocationOptions
        @Argument(help: "Files to add.") var files: [String]

        func run() throws {
            let cache = SourceCache(root: location.sourceCacheDirectory)
            for f in files {
                let e = try cache.add(file: f)
                print("\(e.sha256)  \(e.size)  \((f as NSString).lastPathComponent)")
            }
        }
    }

    struct AddGit: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-git",
            abstract: "Seed the git cache's mirror of URL from a local repository or a `git bundle` (offline use).")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var location: BuildLocationOptions
        @Argument(help: "The repository URL as recipes name it.") var url: String
        @Argument(help: "A local repository or a git bundle file.") var source: String

        func run() throws {
            let mirror = try GitCache(sourceCache: location.sourceCacheDirectory).add(url: url, from: source)
            print("\(url) → \(mirror)")
        }
    }

    struct Fetch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download the sources recipes need that are not cached yet (digests checked).")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var location: BuildLocationOptions
        @OptionGroup var pipelines: PipelineDirOption
        @OptionGroup var lenient: LenientOption
        @Argument(help: "Recipe files.") var recipes: [String]

        func run() throws {
            try FetchPolicy.checkEnvironment()
            let cache = SourceCache(root: location.sourceCacheDirectory)
            let needed = try RecipeSources(recipes: recipes, pipelineDirectories: pipelines.pipelineDir, lenient: lenient.lenient)
            for (path, g) in needed.repositories {
                let git = GitCache(sourceCache: location.sourceCacheDirectory, policy: RecipeSources.policy(forRecipe: path))
                let got = try git.ensure(g, download: true) { Progress.shared.log("kiln: \($0)") }
                print("git     \(got.commit)  \(g.repository)  (\((path as NSString).lastPathComponent))")
            }
            for (path, f) in needed.files {
                let had = cache.lookup(f) != nil
                let got = try cache.fetch(f, download: true, policy: RecipeSources.policy(forRecipe: path)) { Progress.shared.log("kiln: \($0)") }
                print("\(had ? "cached " : "fetched") \(got.sha256)  \(f.uri)  (\((path as NSString).lastPathComponent))")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what recipes need and whether it is cached (or, without recipes, the cache's contents).")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var location: BuildLocationOptions
        @OptionGroup var pipelines: PipelineDirOption
        @OptionGroup var lenient: LenientOption
        @Argument(help: "Recipe files.") var recipes: [String] = []

        func run() throws {
            let cache = SourceCache(root: location.sourceCacheDirectory)
            if recipes.isEmpty {
                for e in try cache.entries() { print("\(e.sha256)  \(e.size)") }
                return
            }
            var missing = 0
            let needed = try RecipeSources(recipes: recipes, pipelineDirectories: pipelines.pipelineDir, lenient: lenient.lenient)
            for (path, f) in needed.files {
                let cached = cache.lookup(f) != nil
                if !cached { missing += 1 }
                let digest = f.sha256.map { "sha256:\($0)" } ?? f.sha512.map { "sha512:\($0)" } ?? "-"
                print("\(cached ? "cached " : "MISSING")  \(digest)  \(f.uri)  (\((path as NSString).lastPathComponent))")
            }
            let git = GitCache(sourceCache: location.sourceCacheDirectory)
            for (path, g) in needed.repositories {
                let got = try? git.ensure(g, download: false)
                if got == nil { missing += 1 }
                print("\(got == nil ? "MISSING" : "cached ")  git:\(got?.commit ?? g.expectedCommit ?? g.tag ?? g.branch ?? "HEAD")  \(g.repository)  (\((path as NSString).lastPathComponent))")
            }
            if missing > 0 {
                throw ExitStatus(code: 1, message: "\(missing) source(s) missing from \(cache.root): run `kiln source fetch` or `kiln source add`")
            }
        }
    }
}
