import Foundation
import KilnBuild
import KilnCore
import KilnRecipe

/// `kiln build` without `--toolchain` (`auto`, issue 21): the host, unless the recipes need
/// build-time packages or pipeline commands the host lacks and the pinned Debian root — already
/// bootstrapped — has them all; then that root, said in the log. Otherwise the host, and the build
/// fails before its first step with the list and the fix (`Builder`'s own check). A FIPS variant
/// always takes the pinned root (the host's OpenSSL must not be visible). README "Choosing the
/// toolchain" says why kiln switches rather than fails.
public enum ToolchainChoice {
    /// The `--toolchain` value that asks for this choice (the CLI's default).
    public static let auto = "auto"

    /// What `root` lacks for `recipes`: build-time package names nothing provides there (kiln's own
    /// builds — `fromKiln`, and what these recipes make — count) and pipeline commands missing from its
    /// PATH, each as `name (recipe: what)`.
    public static func lacking(_ recipes: [Recipe], plans: [BuildPlan], fromKiln: [String], root: String) -> [String] {
        let produced = recipes.flatMap(\.packageNames)
        var out: [String] = []
        for (recipe, plan) in zip(recipes, plans) {
            let r = BuildPackages.resolve(recipe.environment.packages.sorted(), fromKiln: fromKiln + produced, root: root)
            out += r.missing.map { "\($0) (\(recipe.package.name): build-time package)" }
            let cmds = BuildRootCheck.missing(plan.requiredCommands, roots: [root == "/" ? "" : root])
            out += cmds.map { "\($0.command) (\(recipe.package.name): command of `\($0.pipeline)`)" }
        }
        return out
    }

    /// The toolchain for `recipes` when `--toolchain` was not given (see the type's comment).
    public static func choose(_ recipes: [Recipe], build: BuildRequest, installer: (any BuildDependencyInstaller)?,
                              lockPath: String?, progress: KilnCore.Progress = .shared) throws -> Toolchain {
        let out = build.outputDirectory
        if build.variant == "fips" { return try ToolchainSpec.resolve("debian", out: out, lockPath: lockPath) }
        let library = try DirectoryPipelineLibrary.standard(extra: build.pipelineDirectories, lenient: build.lenient)
        let expander = PipelineExpander(library: library, arch: build.arch)
        let variants = try recipes.map { r in try build.variant.map { $0 == "standard" ? r : try r.applying(buildOption: $0) } ?? r }
        let plans = try variants.map { try expander.plan($0) }
        let wanted = BuildPackages.withKilnNames(variants.flatMap(\.environment.packages))
        let kiln = try (installer ?? TreeDependencyInstaller(treesDirectory: "\(out)/trees/\(build.arch)")).available(wanted, arch: build.arch)
        let hostLacks = lacking(variants, plans: plans, fromKiln: kiln, root: "/")
        guard !hostLacks.isEmpty else { return .host }
        let list = hostLacks.joined(separator: ", ")
        guard let lockPath, let pinned = (try? DebianToolchain.cached(lockPath: lockPath, outDir: out)) ?? nil else {
            progress.log("kiln: the host lacks \(list); the pinned Debian root (\(lockPath ?? "no toolchain lock given")) is not bootstrapped — run `make toolchain` "
                         + "(or `kiln toolchain bootstrap`) to build there, or give --toolchain host|debian|DIR")
            return .host
        }
        let pinnedLacks = lacking(variants, plans: plans, fromKiln: kiln, root: pinned.rootPath)
        guard pinnedLacks.isEmpty else {
            progress.log("kiln: the host lacks \(list); the pinned Debian root \(pinned.rootPath) lacks \(pinnedLacks.joined(separator: ", ")) — building on the host")
            return .host
        }
        progress.log("kiln: the host lacks \(list): building in the pinned Debian root \(pinned.rootPath) (--toolchain host to refuse)")
        return pinned
    }

    /// `kiln test` without `--toolchain`: the root the package was built in — the pinned Debian root
    /// its `<out>/trees/<arch>/<name>.build.json` names by lock digest, when that root is still
    /// cached — else the host (a build made there, or none recorded).
    public static func forTests(recipePath: String, out: String, arch: String, lenient: Bool,
                                progress: KilnCore.Progress = .shared) throws -> Toolchain {
        let name = try RecipeParser(lenient: lenient).parse(path: recipePath).recipe.package.name
        guard let built = try? BuildResult.read(from: "\(out)/trees/\(arch)/\(name).build.json"),
              let digest = built.toolchainLockDigest, built.toolchain.hasPrefix("debian-") else { return .host }
        guard let root = ToolchainStore(outDir: out).root(suite: String(built.toolchain.dropFirst(7)), digest: digest) else {
            progress.log("kiln: \(name) was built in \(built.toolchain) (lock \(digest.prefix(16))), which is no longer in \(out)/toolchain — testing on the host")
            return .host
        }
        progress.log("kiln: \(name) was built in the pinned Debian root: testing there (\(root.rootPath))")
        return root
    }
}
