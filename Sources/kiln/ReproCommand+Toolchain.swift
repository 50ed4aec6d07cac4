import Foundation
import KilnBuild
import KilnCore
import KilnRecipe

/// The root `kiln repro` rebuilds in. For `--toolchain debian` it is the root the published build
/// recorded (`toolchainLockDigest` in `<name>.build.json`), recreated exactly (frozen) from the source
/// cache or the archive when it is not cached; `ToolchainUnavailable` (exit 2) when neither has its
/// packages — a root that cannot be had is "could not run", never "not reproducible".
func reproToolchain(_ spec: String, recipePath: String, variant: String?, out: String) throws -> Toolchain {
    guard isDebianToolchain(spec) else { return try resolveToolchain(spec, out: out) }
    let name = try RecipeParser(lenient: true).parse(path: recipePath).recipe.package.name
    let candidates = (variant.map { ["\(out)/variants/\($0)/trees/\(Architecture.host)", "\(out)/trees/\(Architecture.host)"] }
                      ?? ["\(out)/trees/\(Architecture.host)"]).map { "\($0)/\(name).build.json" }
    let bootstrap = ToolchainBootstrap(lockPath: DebianToolchain.defaultLockPath, outDir: out, mode: .frozen)
    for file in candidates {
        guard let data = FileManager.default.contents(atPath: file),
              let result = try? JSONDecoder().decode(BuildResult.self, from: data) else { continue }
        guard let digest = result.toolchainLockDigest else { break }
        Progress.shared.log("repro: rebuilding in the toolchain root \(file) records (lock sha256 \(digest.prefix(16)))")
        return try bootstrap.root(forDigest: digest)
    }
    Progress.shared.log("repro: no build result records a toolchain root for \(name); using exactly the committed lock (frozen)")
    return try bootstrap.ensure()
}
