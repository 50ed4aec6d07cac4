import Foundation
import KilnBuild
import KilnCore

extension RunReport {
    /// Something the archive moved that this run picked up (`kiln nightly --update`).
    public struct Update: Codable, Sendable, Equatable {
        /// `recipe` (a bumped recipe) or `toolchain` (a package of the Debian build root).
        public var kind: String
        /// Recipe or Debian package name.
        public var name: String
        /// Version before (nil: new).
        public var from: String?
        /// Version now (nil: gone).
        public var to: String?
        /// An update record.
        public init(kind: String, name: String, from: String?, to: String?) {
            self.kind = kind; self.name = name; self.from = from; self.to = to
        }
    }
}

/// `kiln nightly --update`: before planning, bump the recipes fed from Debian's archive
/// (`kiln update --write`) and re-resolve the Debian toolchain, so the run rebuilds what the bumps
/// and the toolchain's drift changed; what moved goes into the report's "updates" section.
public enum NightlyUpdate {
    /// Bumps every recipe under `recipes` the archive has a newer version of; returns what moved.
    public static func bumpRecipes(recipes: String, list: String, cache: SourceCache, archive: any DebianArchive = AptArchive(),
                                   progress: KilnCore.Progress = .shared) throws -> [RunReport.Update] {
        guard FileManager.default.fileExists(atPath: list) else {
            progress.log("nightly: --update: no \(list), so no recipe is fed from Debian's archive")
            return []
        }
        let updater = RecipeUpdater(list: try DebianSourceList.load(list), cache: cache, archive: archive, progress: progress)
        let plan = try updater.plan(RecipeUpdater.recipeFiles(in: recipes))
        for u in plan where u.action == .hold {
            progress.log("nightly: --update: \(u.recipe) \(u.pinned) held (\(u.note)); the archive has \(u.available ?? "?")")
        }
        return try updater.write(plan).map { .init(kind: "recipe", name: $0.recipe, from: $0.pinned, to: $0.newVersion) }
    }

    /// Resolves the Debian toolchain anew (one bootstrap) and reports the packages that moved since
    /// the root used last.
    public static func refreshToolchain(_ bootstrap: ToolchainBootstrap) throws -> (Toolchain, [RunReport.Update]) {
        let (t, moved) = try bootstrap.refresh()
        return (t, moved.map { .init(kind: "toolchain", name: $0.package, from: $0.locked, to: $0.now) })
    }
}
