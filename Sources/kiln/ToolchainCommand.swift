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
            abstract: "Make the root once with mmdebstrap from apt's sources (reused while the lock is unchanged); prints its path.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var location: Location
        @Flag(name: .long, help: "Accept what the archive resolves today and rewrite the lock (then commit it).")
        var updateLock = false

        func run() throws {
            let t = try DebianToolchain.ensure(lockPath: location.lock, outDir: location.out, updateLock: updateLock)
            print(t.rootPath)
        }
    }

    struct Path: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "path", abstract: "Print the cached root for the lock, or fail if it is not bootstrapped yet.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var location: Location

        func run() throws {
            guard let t = try DebianToolchain.cached(lockPath: location.lock, outDir: location.out) else {
                throw KilnMessage("no toolchain root for \(location.lock) under \(location.out)/toolchain; run `make toolchain` (kiln toolchain bootstrap)")
            }
            print(t.rootPath)
        }
    }
}
