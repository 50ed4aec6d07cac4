import ArgumentParser
import Foundation
import KilnBuild
import KilnCore

/// `kiln toolchain bootstrap|path`: the pinned Debian build root (see DebianToolchain).
struct ToolchainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "toolchain",
        abstract: "Bootstrap, pin and locate the Debian build root that `kiln build --toolchain debian` uses.",
        subcommands: [Bootstrap.self, Path.self])

    struct Location: ParsableArguments {
        @Option(name: .long, help: "The toolchain lock file (committed).")
        var lock = "recipes/toolchain/bookworm.lock"
        @Option(name: .long, help: "Output directory; the root is cached under OUT/toolchain/.")
        var out = "out"
    }

    struct Bootstrap: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bootstrap",
            abstract: "Make the root once with mmdebstrap from apt's sources (reused while the lock is unchanged); prints its path.",
            discussion: "When the archive has moved past the committed lock, the drift is printed as a table and the root is made from what the archive has now, described by the resolved lock kept beside it (its digest is the root's identity). --frozen refuses drift; --update-lock rewrites the lock.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var location: Location
        @Flag(name: .long, help: "Accept what the archive resolves today and rewrite the lock (then commit it).")
        var updateLock = false
        @Flag(name: .long, help: "Exactly the committed lock or an error naming the packages that moved (also KILN_FROZEN=1); the locked .debs come from the source cache, else from the archive at exactly their versions.")
        var frozen = false
        @Option(name: .long, help: "The content-addressed source cache that keeps every .deb the root was made of (default OUT/sources).")
        var sourceCache: String?

        func run() throws {
            if frozen && updateLock { throw ValidationError("--frozen and --update-lock contradict each other") }
            let mode: LockMode = updateLock ? .update : (frozen ? .frozen : LockMode.resolve.honouringEnvironment())
            let t = try ToolchainBootstrap(lockPath: location.lock, outDir: location.out,
                                           sourceCache: sourceCache.map(SourceCache.init(root:)), mode: mode).ensure()
            print(t.rootPath)
        }
    }

    struct Path: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "path", abstract: "Print the cached root for the lock (or the root it resolved to when the archive had moved), or fail if it is not bootstrapped yet.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var location: Location

        func run() throws {
            guard let t = try DebianToolchain.cached(lockPath: location.lock, outDir: location.out, followingDrift: true) else {
                throw KilnMessage("no toolchain root for \(location.lock) under \(location.out)/toolchain; run `make toolchain` (kiln toolchain bootstrap)")
            }
            print(t.rootPath)
        }
    }
}
