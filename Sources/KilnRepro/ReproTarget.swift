import Foundation
import KilnBuild
import KilnCore
import KilnRecipe

/// What `kiln repro TARGET` names: a recipe (it has a top-level `package:` key) or an image config.
public enum ReproTarget: Sendable, Equatable {
    /// A melange-dialect recipe.
    case recipe
    /// An apko-dialect image config.
    case image

    /// Classifies the file at `path` by its top-level `package:` key.
    public static func classify(_ path: String) throws -> ReproTarget {
        guard let text = FileManager.default.contents(atPath: path) else {
            throw ReproError.unreadable(path: path, reason: "no such recipe or image config")
        }
        return String(decoding: text, as: UTF8.self).split(separator: "\n").contains { $0.hasPrefix("package:") } ? .recipe : .image
    }
}

/// The root `kiln repro` rebuilds in.
public enum ReproToolchain {
    /// For `--toolchain debian` it is the root the published build recorded (`toolchainLockDigest` in
    /// `<name>.build.json`), recreated exactly (frozen) from the source cache or the archive when it is
    /// not cached; `ToolchainUnavailable` (exit 2) when neither has its packages — a root that cannot
    /// be had is "could not run", never "not reproducible". Other specs as `ToolchainSpec.resolve`.
    public static func root(_ spec: String, recipePath: String, variant: String?, out: String,
                            lockPath: String?, progress: KilnCore.Progress = .shared) throws -> Toolchain {
        guard ToolchainSpec.isDebian(spec) else { return try ToolchainSpec.resolve(spec, out: out, lockPath: lockPath) }
        let name = try RecipeParser(lenient: true).parse(path: recipePath).recipe.package.name
        let candidates = (variant.map { ["\(out)/variants/\($0)/trees/\(Architecture.host)", "\(out)/trees/\(Architecture.host)"] }
                          ?? ["\(out)/trees/\(Architecture.host)"]).map { "\($0)/\(name).build.json" }
        let bootstrap = ToolchainBootstrap(lockPath: try ToolchainSpec.requireLock(lockPath, spec), outDir: out, mode: .frozen)
        for file in candidates {
            guard let data = FileManager.default.contents(atPath: file),
                  let result = try? JSONDecoder().decode(BuildResult.self, from: data) else { continue }
            guard let digest = result.toolchainLockDigest else { break }
            progress.log("repro: rebuilding in the toolchain root \(file) records (lock sha256 \(digest.prefix(16)))")
            return try bootstrap.root(forDigest: digest)
        }
        progress.log("repro: no build result records a toolchain root for \(name); using exactly the committed lock (frozen)")
        return try bootstrap.ensure()
    }
}
