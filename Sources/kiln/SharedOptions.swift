import ArgumentParser
import Foundation
import KilnBuild
import KilnFIPS
import KilnRecipe

// Options that mean the same thing in several subcommands, declared once so that their name, help
// and default are the same everywhere.

/// `--toolchain`: kiln build, test, nightly, repro.
struct ToolchainOption: ParsableArguments {
    @Option(name: .customLong("toolchain"), help: "Toolchain root: `host` (this machine's /usr, read-only), `debian` (the pinned bookworm root of recipes/toolchain/bookworm.lock) or a root directory. Default: the host; kiln build: `auto` (the bootstrapped pinned root when the host lacks a recipe's build-time packages or commands); kiln test: the root the package was built in.")
    var given: String?

    /// The root named, or `host` when none was given.
    var toolchain: String { given ?? "host" }

    /// The Debian toolchain lock, resolved once against the working directory (the repository root).
    var lockPath: String { absolutePath(DebianToolchain.defaultLockPath) }
}

/// `--arch`: kiln build, test, nightly, plan.
struct ArchOption: ParsableArguments {
    @Option(name: .long, help: "Target architecture (APK name, e.g. x86_64).")
    var arch: String = Architecture.host
}

/// `--variant`: kiln build, test, repro (a recipe's build option; `kiln image --variant` is the image variant).
struct VariantOption: ParsableArguments {
    @Option(name: .long, help: "Build variant: a build option of the recipe (`options:`), e.g. fips. Default: standard.")
    var variant: String?
}

/// `--pipeline-dir`: kiln build, test, nightly, plan, source fetch/list.
struct PipelineDirOption: ParsableArguments {
    @Option(name: .long, help: "Directory of extra pipelines for `uses:` (repeatable; overrides built-ins).")
    var pipelineDir: [String] = []
}

/// `--lenient`: kiln build, test, plan, source fetch/list.
struct LenientOption: ParsableArguments {
    @Flag(name: .long, help: "Warn about unknown recipe keys instead of failing (melange rejects them).")
    var lenient = false
}

/// `--offline`: kiln build, nightly.
struct OfflineOption: ParsableArguments {
    @Flag(name: .long, help: "Never download: every source must already be in the cache.")
    var offline = false
}

/// `--source-dir` and `--keep-workspace`: kiln build, test.
struct WorkspaceOptions: ParsableArguments {
    @Option(name: .long, help: "Directory with files for the build and its tests (patches...); default <recipe dir>/<package name>/.")
    var sourceDir: String?

    @Flag(name: .long, help: "Keep the build or test workspace (its path is printed) instead of removing it.")
    var keepWorkspace = false
}

/// `--out` and `--source-cache`: kiln build, test, nightly, repro, source, update.
struct BuildLocationOptions: ParsableArguments {
    @Option(name: .long, help: "Output directory (trees, packages, logs, reports, source cache).")
    var out: String = "out"

    @Option(name: .long, help: "Content-addressed source cache (default: <out>/sources).")
    var sourceCache: String?

    var sourceCacheDirectory: String { sourceCache ?? "\(out)/sources" }
}

/// `--fips-registry`: kiln build, nightly, repro, audit. The default is resolved here, once, against
/// the working directory (the repository root); the libraries take the absolute path.
struct FIPSRegistryOption: ParsableArguments {
    @Option(name: .long, help: "The FIPS module registry that labels a provider `validated` or `fips-capable` (default: recipes/fips/modules.yaml in the working directory).")
    var fipsRegistry: String?

    /// The registry file, absolute.
    var path: String { absolutePath(fipsRegistry ?? FIPSModuleRegistry.defaultPath) }
}

/// `--keyring`: kiln apk verify/info, index, image, lock — the same meaning everywhere: repeatable,
/// each value a public key file or a directory whose public key files are all trusted.
struct KeyringOption: ParsableArguments {
    @Option(name: .long, help: "Trusted public key: a .pub file, or a directory of them (repeatable). A key's file name is its key name, e.g. kiln-dev.rsa.pub.")
    var keyring: [String] = []

    /// The values that are directories, and the rest (files), in the order given.
    var split: (files: [String], directories: [String]) {
        var isDir: ObjCBool = false
        let dirs = keyring.filter { FileManager.default.fileExists(atPath: $0, isDirectory: &isDir) && isDir.boolValue }
        return (keyring.filter { !dirs.contains($0) }, dirs)
    }
}
