import Foundation
import KilnCore
import KilnRecipe

/// The sources a set of recipes needs — their `fetch` and `git-checkout` steps over the standard
/// variant and every build option (a variant may fetch other sources through its vars) — each
/// once, with the recipe that names it first (`kiln source fetch` / `kiln source list`).
public struct RecipeSources {
    /// Files to fetch, by the recipe that names them.
    public var files: [(recipe: String, request: FetchRequest)]
    /// Repositories to check out, by the recipe that names them.
    public var repositories: [(recipe: String, request: GitCheckoutRequest)]

    /// Parses and expands `recipes` (warnings go to `progress`).
    public init(recipes: [String], pipelineDirectories: [String] = [], lenient: Bool = false,
                progress: KilnCore.Progress = .shared) throws {
        let library = try DirectoryPipelineLibrary.standard(extra: pipelineDirectories, lenient: lenient)
        var plans: [(String, BuildPlan)] = []
        for path in recipes {
            let (r, warnings) = try RecipeParser(lenient: lenient).parse(path: path)
            for w in warnings { progress.log("kiln: \(w)") }
            let expander = PipelineExpander(library: library, arch: Architecture.host)
            plans.append((path, try expander.plan(r)))
            for o in r.options { plans.append((path, try expander.plan(try r.applying(buildOption: o.name)))) }
        }
        var seenFiles = Set<String>(), seenRepos = Set<String>()
        files = plans.flatMap { p in p.1.fetches.map { (p.0, $0) } }
            .filter { seenFiles.insert("\($0.1.uri) \($0.1.sha256 ?? "") \($0.1.sha512 ?? "")").inserted }
        repositories = plans.flatMap { p in p.1.gitCheckouts.map { (p.0, $0) } }
            .filter { seenRepos.insert("\($0.1.repository) \($0.1.expectedCommit ?? "") \($0.1.tag ?? "") \($0.1.branch ?? "")").inserted }
    }

    /// Local sources and repositories may come only from the recipe's own directory.
    public static func policy(forRecipe path: String) -> FetchPolicy {
        let dir = (path as NSString).deletingLastPathComponent
        return FetchPolicy(localRoots: [URL(fileURLWithPath: dir.isEmpty ? "." : dir).standardizedFileURL.path])
    }
}
