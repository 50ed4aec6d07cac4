import Foundation
import KilnCore

/// Something kiln does outside the sandbox before a step runs (the sandbox has no network).
public enum StepPreparation: Sendable, Equatable {
    /// `fetch`: put the digest-checked source for `uri` at `/home/build/<basename>`.
    case fetch(FetchRequest)
    /// `git-checkout`: check out `repository` at a commit into `destination`.
    case gitCheckout(GitCheckoutRequest)
}

public struct FetchRequest: Sendable, Equatable, Hashable {
    public var uri: String
    public var sha256: String?
    public var sha512: String?
    public var location: SourceLocation
    /// The file name inside the workspace (basename of the URI).
    public var fileName: String {
        let noQuery = uri.split(separator: "?").first.map(String.init) ?? uri
        let base = (noQuery as NSString).lastPathComponent
        return base.isEmpty || base == "." || base == ".." || base == "/" ? "source" : base
    }
    public init(uri: String, sha256: String?, sha512: String?, location: SourceLocation) {
        self.uri = uri; self.sha256 = sha256; self.sha512 = sha512; self.location = location
    }
}

public struct GitCheckoutRequest: Sendable, Equatable, Hashable {
    public var repository: String
    public var tag: String?
    public var branch: String?
    public var expectedCommit: String?
    public var destination: String
    /// melange's clone depth: a positive integer or -1 (full). kiln's mirror always holds the full
    /// history and the tree is exactly the wanted commit either way, so depth changes nothing.
    public var depth: Int
    public var recurseSubmodules: Bool
    /// Applied in order on top of the checked-out commit (CherryPick.swift, GitCache.checkout).
    public var cherryPicks: [CherryPick]
    public var keepGitDirectory: Bool
    public var location: SourceLocation
}

/// One shell step ready to run in the sandbox: substitutions done, pipelines expanded.
public struct ResolvedStep: Sendable {
    /// Display path, e.g. `autoconf/make` or `build: make install`.
    public var name: String
    public var script: String?
    /// Absolute directory inside the sandbox.
    public var workingDirectory: String
    public var environment: [String: String]
    public var preparation: StepPreparation?
    /// Where the step (the outermost `uses`/`runs` in the recipe) is written.
    public var location: SourceLocation
    /// The package or subpackage whose pipeline this belongs to.
    public var package: String
}

/// A recipe turned into a flat list of steps for one architecture (+ variant already applied).
public struct BuildPlan: Sendable {
    public var recipe: Recipe
    public var arch: String
    public var steps: [ResolvedStep]
    /// Subpackages whose `if:` held (in order); these get trees.
    public var subpackages: [Subpackage]
    /// All `needs.packages` of the pipelines used plus `environment.contents.packages`, sorted, unique.
    public var buildPackages: [String]
    public var fetches: [FetchRequest] {
        steps.compactMap { if case .fetch(let f)? = $0.preparation { return f }; return nil }
    }
    public var gitCheckouts: [GitCheckoutRequest] {
        steps.compactMap { if case .gitCheckout(let g)? = $0.preparation { return g }; return nil }
    }
    public var warnings: [RecipeWarning] = []
    /// Commands the pipelines used declare in `needs.commands` (first use of each), checked against
    /// the build root before the first step.
    public var requiredCommands: [RequiredCommand] = []
}

/// A command a pipeline needs on the root's PATH, and where the recipe uses that pipeline.
public struct RequiredCommand: Sendable, Equatable {
    public var command: String
    public var pipeline: String
    public var location: SourceLocation
}

/// The test of one package: steps to run in a sandbox holding the package and `packages`.
public struct TestPlan: Sendable {
    public var package: String
    public var steps: [ResolvedStep]
    /// `test.environment.contents.packages`.
    public var packages: [String]
    /// Includes the skipped (unknown) pipelines.
    public var warnings: [RecipeWarning]
    public var location: SourceLocation
    public var requiredCommands: [RequiredCommand] = []
}

public struct PipelineExpander {
    public var library: PipelineLibrary
    public var arch: String
    public var maxDepth = 16
    /// Report unknown `uses:` as skipped (a warning) instead of an error — for `test:` blocks, whose
    /// pipelines often come from a distribution's own pipeline directory.
    public var skipUnknownPipelines = false

    public init(library: PipelineLibrary, arch: String) { self.library = library; self.arch = arch }

    public func plan(_ recipe: Recipe) throws -> BuildPlan {
        var steps: [ResolvedStep] = []
        var needs = Set(recipe.environment.packages)
        var warnings: [RecipeWarning] = []
        var commands: [RequiredCommand] = []
        let base = try recipe.substitutionContext(arch: arch)
        var env: [String: String] = [:]
        for v in recipe.environment.variables { env[v.name] = try base.substitute(v.value, at: v.location) }

        for s in recipe.pipeline {
            try expand(s, context: base, env: env, workdir: SandboxPaths.workspace, package: recipe.package.name,
                       outer: nil, depth: 0, into: &steps, needs: &needs, warnings: &warnings, commands: &commands)
        }
        var subs: [Subpackage] = []
        for (sp, c) in try subpackages(recipe) {
            subs.append(sp)
            for s in sp.pipeline {
                try expand(s, context: c, env: env, workdir: SandboxPaths.workspace, package: sp.name, outer: nil,
                           depth: 0, into: &steps, needs: &needs, warnings: &warnings, commands: &commands)
            }
        }
        var recipe = recipe
        recipe.package.description = base.substituteKnown(recipe.package.description)
        return BuildPlan(recipe: recipe, arch: arch, steps: steps, subpackages: subs,
                         buildPackages: needs.sorted(), warnings: warnings, requiredCommands: commands)
    }

    /// One `test:` block to plan: the package it tests, the block and the substitutions it sees.
    public struct TestBlockRef: Sendable {
        public var package: String
        public var block: TestBlock
        public var context: SubstitutionContext
        public var environment: [String: String]
    }

    /// The steps of the recipe's `test:` blocks: the main package's, then each subpackage's.
    public func planTests(_ recipe: Recipe) throws -> [TestPlan] {
        try testBlocks(recipe).map { try planTest($0) }
    }

    /// The subpackages that exist for this arch, in order, each with the substitutions its pipeline
    /// and test see: ranged ones expanded once per item of their `data:` entry (keys sorted, like
    /// melange), names substituted and checked, those whose `if:` is false left out. Descriptions
    /// keep an unknown `${{...}}` as written (melange substitutes them with a plain replacer).
    public func subpackages(_ recipe: Recipe) throws -> [(Subpackage, SubstitutionContext)] {
        let base = try recipe.substitutionContext(arch: arch)
        var expanded: [(Subpackage, [String: String])] = []
        for sp in recipe.subpackages {
            guard let range = sp.range, !range.isEmpty else { expanded.append((sp, [:])); continue }
            let entry = recipe.data?.array?.first { $0["name"]?.string == range }
            guard let items = entry?["items"], case .mapping(let kvs) = items else {
                throw RecipeError(.invalidValue, sp.location, "subpackage `\(sp.name)`: range `\(range)` names no `data:` entry with `items`")
            }
            for kv in kvs.sorted(by: { $0.key < $1.key }) {
                expanded.append((sp, ["range.key": kv.key, "range.value": kv.value.string ?? ""]))
            }
        }
        var out: [(Subpackage, SubstitutionContext)] = []
        for (sp, rangeValues) in expanded {
            var rc = base
            for (k, v) in rangeValues { rc[k] = v }
            let name = try rc.substitute(sp.name, at: sp.location)
            try RecipeParser.checkName(name, "subpackage name `\(sp.name)`", at: sp.location)
            var c = try recipe.substitutionContext(arch: arch, subpackage: name)
            for (k, v) in rangeValues { c[k] = v }
            if let cond = sp.condition, !(try Condition.evaluate(try c.substitute(cond, at: sp.location), at: sp.location)) { continue }
            var resolved = sp
            resolved.name = name
            resolved.description = c.substituteKnown(sp.description)
            resolved.range = nil
            out.append((resolved, c))
        }
        return out
    }

    /// The recipe's test blocks, in order, each with its package name and substitution context: the
    /// main package's, then those of the subpackages that exist (ranges expanded, `if:` applied).
    public func testBlocks(_ recipe: Recipe) throws -> [TestBlockRef] {
        let base = try recipe.substitutionContext(arch: arch)
        var env: [String: String] = [:]
        for v in recipe.environment.variables { env[v.name] = try base.substitute(v.value, at: v.location) }
        var blocks: [TestBlockRef] = []
        if let t = recipe.test { blocks.append(TestBlockRef(package: recipe.package.name, block: t, context: base, environment: env)) }
        for (sp, c) in try subpackages(recipe) {
            guard let t = sp.test else { continue }
            blocks.append(TestBlockRef(package: sp.name, block: t, context: c, environment: env))
        }
        return blocks
    }

    /// Plans one test block (unknown pipelines are skipped with a warning).
    public func planTest(_ ref: TestBlockRef) throws -> TestPlan {
        let (name, t, c) = (ref.package, ref.block, ref.context)
        var steps: [ResolvedStep] = [], needs = Set<String>(), warnings: [RecipeWarning] = []
        var commands: [RequiredCommand] = []
        var tenv = ref.environment
        for v in t.environment.variables { tenv[v.name] = try c.substitute(v.value, at: v.location) }
        var me = self
        me.skipUnknownPipelines = true
        for s in t.pipeline {
            try me.expand(s, context: c, env: tenv, workdir: SandboxPaths.workspace, package: name, outer: nil,
                          depth: 0, into: &steps, needs: &needs, warnings: &warnings, commands: &commands)
        }
        let packages = try t.environment.packages.map { try c.substitute($0, at: t.location) }
        return TestPlan(package: name, steps: steps, packages: packages, warnings: warnings, location: t.location,
                        requiredCommands: commands)
    }

    /// Checks every `uses`, input and substitution without building (what `kiln build` does first).
    public func validate(_ recipe: Recipe) throws { _ = try plan(recipe) }

    private func resolveDir(_ dir: String, relativeTo base: String) -> String {
        if dir.hasPrefix("/") { return dir }
        return dir == "." || dir.isEmpty ? base : "\(base)/\(dir)"
    }

    private func expand(_ step: PipelineStep, context: SubstitutionContext, env: [String: String], workdir: String,
                        package: String, outer: PipelineStep?, usesName: String? = nil, depth: Int, into steps: inout [ResolvedStep],
                        needs: inout Set<String>, warnings: inout [RecipeWarning], commands: inout [RequiredCommand]) throws {
        let top = outer ?? step
        guard depth < maxDepth else {
            throw RecipeError(.invalidValue, top.location, "pipelines nest more than \(maxDepth) deep (a pipeline that uses itself?)")
        }
        if let cond = step.condition {
            let at = step.conditionLocation ?? step.location
            if !(try Condition.evaluate(try context.substitute(cond, at: at), at: at)) { return }
        }
        var env = env
        for v in step.environment { env[v.name] = try context.substitute(v.value, at: v.location) }
        var workdir = workdir
        if let wd = step.workingDirectory { workdir = resolveDir(try context.substitute(wd, at: step.location), relativeTo: workdir) }
        needs.formUnion(step.needsPackages)
        // Inside a pipeline definition a step is called by the pipeline's name (and its own name if it has one).
        let display: String
        if let via = usesName {
            display = via + ((step.name?.isEmpty == false) ? ": \(step.name!)" : "")
        } else {
            display = step.displayName
        }

        if let uses = step.uses {
            let usesAt = step.usesLocation ?? step.location
            guard let def = try library.definition(named: uses) else {
                if skipUnknownPipelines {
                    warnings.append(RecipeWarning(usesAt, "skipped: pipeline `\(uses)` is not known to kiln (add it with --pipeline-dir)"))
                    return
                }
                let known = library.names.sorted()
                throw RecipeError(.unknownPipeline, usesAt, "unknown pipeline `\(uses)` in `uses:` (kiln has: \(known.joined(separator: ", ")); add your own with --pipeline-dir)")
            }
            for c in def.needsCommands where !commands.contains(where: { $0.command == c }) {
                commands.append(RequiredCommand(command: c, pipeline: uses, location: usesAt))
            }
            // Inputs: `with` values (substituted in the caller's context), then defaults.
            var inner = context
            for key in context.values.keys where key.hasPrefix("inputs.") { inner.values.removeValue(forKey: key) }
            for a in step.with {
                // melange: "undefined input %q to pipeline %q" (compile.go) — an error, not a warning.
                if def.input(a.name) == nil {
                    let known = def.inputs.map(\.name).sorted()
                    throw RecipeError(.unknownInput, a.location, "pipeline `\(uses)` has no input `\(a.name)` "
                                      + (known.isEmpty ? "(it takes none)" : "(it takes: \(known.joined(separator: ", ")))")
                                      + " — fix the name or remove it (\(def.file))")
                }
                inner["inputs.\(a.name)"] = try context.substitute(a.value, at: a.location)
            }
            for input in def.inputs where inner["inputs.\(input.name)"] == nil {
                if let d = input.defaultValue {
                    inner["inputs.\(input.name)"] = try context.substitute(d, at: SourceLocation(file: def.file))
                } else if input.required {
                    throw RecipeError(.missingInput, usesAt, "pipeline `\(uses)` needs input `\(input.name)`"
                                      + (input.description.isEmpty ? "" : " (\(input.description.trimmingCharacters(in: .whitespacesAndNewlines)))")
                                      + ": add it under `with:`")
                } else {
                    inner["inputs.\(input.name)"] = ""
                }
            }
            // melange substitutes the inputs into needs.packages (`${{inputs.go-package}}`).
            needs.formUnion(def.needsPackages.map { inner.substituteKnown($0) })
            var withAt: [String: SourceLocation] = [:]
            for a in step.with { withAt[a.name] = a.location }
            let preparation = try self.preparation(uses: uses, inputs: inner, at: usesAt, withAt: withAt, workdir: workdir,
                                                   warnings: &warnings)
            var first = true
            for s in def.pipeline {
                let before = steps.count
                try expand(s, context: inner, env: env, workdir: workdir, package: package, outer: top,
                           usesName: uses, depth: depth + 1, into: &steps, needs: &needs, warnings: &warnings, commands: &commands)
                if first, let preparation, steps.count > before {
                    steps[before].preparation = preparation; first = false
                }
            }
            if first, let preparation {
                steps.append(ResolvedStep(name: uses, script: nil, workingDirectory: workdir, environment: env,
                                          preparation: preparation, location: top.location, package: package))
            }
            // `uses` steps may also carry a nested pipeline (ignored by melange); keep going.
            return
        }
        if let runs = step.runs {
            let script = try context.substitute(runs, at: step.runsLocation ?? step.location)
            steps.append(ResolvedStep(name: display, script: script,
                                      workingDirectory: workdir, environment: env, preparation: nil,
                                      location: top.location, package: package))
        }
        for s in step.pipeline {
            try expand(s, context: context, env: env, workdir: workdir, package: package, outer: outer,
                       usesName: usesName, depth: depth + 1, into: &steps, needs: &needs, warnings: &warnings, commands: &commands)
        }
    }

    /// `withAt`: where each `with:` value of the step is written (for errors about one line of it).
    private func preparation(uses: String, inputs c: SubstitutionContext, at: SourceLocation, withAt: [String: SourceLocation],
                             workdir: String, warnings: inout [RecipeWarning]) throws -> StepPreparation? {
        func input(_ n: String) -> String? { c["inputs.\(n)"].flatMap { $0.isEmpty ? nil : $0 } }
        switch uses {
        case "fetch":
            let uri = input("uri") ?? ""
            let sha256 = input("expected-sha256")?.lowercased(), sha512 = input("expected-sha512")?.lowercased()
            if sha256 == nil && sha512 == nil {
                throw RecipeError(.missingInput, at, "fetch of \(uri): kiln needs `expected-sha256` or `expected-sha512` (it never trusts the network)")
            }
            if let s = sha256, s.count != 64 || !s.allSatisfy(\.isHexDigit) {
                throw RecipeError(.invalidValue, at, "fetch: expected-sha256 `\(s)` is not 64 hex digits")
            }
            if let s = sha512, s.count != 128 || !s.allSatisfy(\.isHexDigit) {
                throw RecipeError(.invalidValue, at, "fetch: expected-sha512 `\(s)` is not 128 hex digits")
            }
            return .fetch(FetchRequest(uri: uri, sha256: sha256, sha512: sha512, location: at))
        case "git-checkout":
            guard let repo = input("repository") else {
                throw RecipeError(.missingInput, at, "pipeline `git-checkout` needs input `repository`")
            }
            if input("expected-commit") == nil {
                warnings.append(RecipeWarning(at, "git-checkout of \(repo) has no `expected-commit`: the build is not reproducible"))
            }
            // depth: validated for melange compatibility only (see GitCheckoutRequest.depth).
            let depthText = input("depth") ?? "-1"
            guard let depth = Int(depthText.trimmingCharacters(in: .whitespaces)), depth > 0 || depth == -1 else {
                throw RecipeError(.invalidValue, withAt["depth"] ?? at, "git-checkout: depth `\(depthText)` must be a positive integer "
                                  + "or -1 (kiln's mirror is always complete, so depth does not change the checkout)")
            }
            let picks = try CherryPick.parse(input("cherry-picks") ?? "", at: withAt["cherry-picks"] ?? at)
            let dest = input("destination") ?? "."
            return .gitCheckout(GitCheckoutRequest(
                repository: repo, tag: input("tag"), branch: input("branch"), expectedCommit: input("expected-commit")?.lowercased(),
                destination: resolveDir(dest, relativeTo: workdir), depth: depth,
                recurseSubmodules: (input("recurse-submodules") ?? "false") == "true", cherryPicks: picks,
                keepGitDirectory: false, location: at))
        default:
            return nil
        }
    }
}
