import Foundation
import KilnCore
import KilnCrypto
import KilnRecipe

/// Installs build-time packages that kiln has built before (from its own repository) over the
/// toolchain root. The APK module provides the real one; without one every name is taken to be
/// provided by the toolchain root.
public protocol BuildDependencyInstaller {
    /// Of `names`, those kiln's repository provides (the rest must come from the toolchain root).
    func available(_ names: [String], arch: String) throws -> [String]
    /// A toolchain to build on: `base` with `names` installed, laid out under `scratch` (a per-build
    /// directory on the output's filesystem, removed after the build).
    func install(_ names: [String], arch: String, over base: Toolchain, scratch: String) throws -> Toolchain
    /// Root-shaped directories (e.g. the packages extracted under `scratch`) that the sandbox lays
    /// over the toolchain root (see `Sandbox.layers`). Implement this or `install`, or both.
    func layers(_ names: [String], arch: String, scratch: String) throws -> [String]
}

extension BuildDependencyInstaller {
    public func install(_ names: [String], arch: String, over base: Toolchain, scratch: String) throws -> Toolchain { base }
    public func layers(_ names: [String], arch: String, scratch: String) throws -> [String] { [] }
}

/// What to build and where.
public struct BuildRequest: Sendable {
    public var recipePath: String
    /// `<out>`: trees go to `<out>/trees/<arch>/`, logs to `<out>/logs/`.
    public var outputDirectory: String
    /// Default `<out>/sources`.
    public var sourceCache: String?
    public var arch: String
    /// A build option of the recipe to apply (`--variant NAME`); nil → `standard`.
    public var variant: String?
    public var sourceDateEpoch: Int64?
    public var keepWorkspace = false
    public var pipelineDirectories: [String] = []
    public var toolchain: Toolchain = .host
    public var lenient = false
    /// Download missing sources (outside the sandbox). Off: a missing source is an error.
    public var download = true
    /// melange's `--source-dir`: default `<recipe dir>/<package name>/` when it exists.
    public var sourceDirectory: String?
    /// `kiln repro`: build in a deliberately varied environment (BuildVariation.swift).
    public var variation = BuildEnvironmentVariation()
    /// `kiln build --resume`: rerun from the failed step in the workspace a failed build kept
    /// (`ResumeRecord`); refused when any recorded input differs.
    public var resume = false
    /// Keep a failed step's workspace with a `ResumeRecord` for `--resume` (off for unattended
    /// builds such as `kiln nightly`: then it is removed unless `keepWorkspace`).
    public var keepFailedForResume = true

    public init(recipePath: String, outputDirectory: String, arch: String = Architecture.host) {
        self.recipePath = recipePath; self.outputDirectory = outputDirectory; self.arch = arch
    }

    public var sourceCacheDirectory: String { sourceCache ?? "\(outputDirectory)/sources" }
}

/// Package metadata taken from the recipe (for the APK writer).
public struct PackageMetadata: Codable, Sendable, Equatable {
    public var name: String
    public var origin: String
    public var version: String
    public var epoch: Int
    public var fullVersion: String
    public var description: String
    public var url: String?
    public var commit: String?
    /// SPDX licenses from `copyright` (in order).
    public var licenses: [String]
    public var runtime: [String]
    public var provides: [String]
    public var replaces: [String]
    public var providerPriority: String?
    public var noProvides: Bool
    public var noDepends: Bool
    public var noCommands: Bool
    public var noVersionedShlibDeps: Bool
    public var scriptlets: [String: String]
    /// Absolute path of the package tree.
    public var tree: String
}

public struct SourceUsed: Codable, Sendable, Equatable {
    public var uri: String
    public var sha256: String
    public var sha512: String
    /// Where the recipe names it.
    public var location: String
    /// For git-checkout sources: the commit checked out (sha256/sha512 are then empty).
    public var commit: String? = nil
}

/// The machine-readable result of one recipe build (`<out>/trees/<arch>/<name>.build.json`).
public struct BuildResult: Codable, Sendable {
    public var schema = "kiln.build-result/v1"
    public var recipe: String
    public var arch: String
    public var variant: String
    public var sourceDateEpoch: Int64
    public var toolchain: String
    public var toolchainLockDigest: String?
    public var package: PackageMetadata
    public var subpackages: [PackageMetadata]
    public var sources: [SourceUsed]
    /// `environment.contents.packages` + pipeline `needs`, sorted.
    public var buildPackages: [String]
    public var installedFromRepository: [String]
    public var providedByToolchain: [String]
    public var log: String
    public var kilnVersion = KilnVersion.current
    /// True when built by `kiln build --resume` (steps before `resumedFromStep` ran in an earlier,
    /// failed build): such trees are never packaged (`PackageStage`) until rebuilt clean.
    public var resumed: Bool? = nil
    /// The plan step the resumed build started at (0-based).
    public var resumedFromStep: Int? = nil

    /// Every package (main first) with its tree.
    public var packages: [PackageMetadata] { [package] + subpackages }

    public func write(to path: String) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(try enc.encode(self) + Data("\n".utf8), to: path)
    }
    public static func read(from path: String) throws -> BuildResult {
        guard let d = FileManager.default.contents(atPath: path) else { throw KilnMessage("cannot read build result \(path)") }
        do { return try JSONDecoder().decode(BuildResult.self, from: d) } catch {
            throw KilnMessage("\(path): not a kiln build result: \(error)")
        }
    }
}

/// A step failed: names the step, where the recipe has it, the exit status and the log.
public struct BuildFailure: KilnError {
    public var package: String
    public var step: String
    public var location: SourceLocation
    public var status: Int32
    public var logPath: String
    public var tail: [String]
    /// How to resume (`kiln build --resume RECIPE` and the step), when the workspace was kept.
    public var resumeHint: String? = nil
    public var description: String {
        "\(location): build of \(package) failed in step `\(step)` (exit \(status))\n"
            + "--- last \(tail.count) log lines ---\n" + tail.joined(separator: "\n")
            + "\n--- full log: \(logPath)" + (resumeHint.map { "\n" + $0 } ?? "")
    }
}

public final class Builder {
    public var progress: KilnCore.Progress
    public var installer: BuildDependencyInstaller?

    public init(progress: KilnCore.Progress = .shared, installer: BuildDependencyInstaller? = nil) {
        self.progress = progress; self.installer = installer
    }

    /// Parses a recipe (warnings go to the progress log) and applies `variant` when given.
    public func load(_ path: String, lenient: Bool, variant: String?) throws -> Recipe {
        let (r, warnings) = try RecipeParser(lenient: lenient).parse(path: path)
        for w in warnings { progress.log("kiln: \(w)") }
        guard let variant, variant != "standard" else { return r }
        return try r.applying(buildOption: variant)
    }

    /// SOURCE_DATE_EPOCH: given > $SOURCE_DATE_EPOCH > the recipe's last git commit time > 0.
    public static func sourceDateEpoch(for recipePath: String, given: Int64?) -> Int64 {
        if let given { return given }
        if let e = SourceDateEpoch.fromEnvironment() { return e }
        let dir = (recipePath as NSString).deletingLastPathComponent
        if Subprocess.which("git") != nil,
           let r = try? Subprocess("git", ["-C", dir.isEmpty ? "." : dir, "log", "-1", "--format=%ct", "--",
                                           (recipePath as NSString).lastPathComponent]).run(),
           r.succeeded, let v = Int64(r.stdoutString.trimmingCharacters(in: .whitespacesAndNewlines)) {
            return v
        }
        return 0
    }

    /// Builds one recipe. Trees land in `<out>/trees/<arch>/<name>/` only when every step succeeded.
    public func build(_ req: BuildRequest) throws -> BuildResult {
        let fm = FileManager.default
        let out = absolute(req.outputDirectory)
        let recipe = try load(req.recipePath, lenient: req.lenient, variant: req.variant)
        let name = recipe.package.name
        if !recipe.package.targetArchitecture.isEmpty,
           !recipe.package.targetArchitecture.contains("all"), !recipe.package.targetArchitecture.contains(req.arch) {
            throw KilnMessage("\(recipe.package.location): \(name) is not built for \(req.arch) (target-architecture: \(recipe.package.targetArchitecture.joined(separator: ", ")))")
        }
        guard !req.arch.isEmpty, req.arch.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            throw KilnMessage("architecture `\(req.arch)` is not valid (e.g. x86_64, aarch64)")
        }
        let library = try DirectoryPipelineLibrary.standard(extra: req.pipelineDirectories, lenient: req.lenient)
        let plan = try PipelineExpander(library: library, arch: req.arch).plan(recipe)
        for w in plan.warnings { progress.log("kiln: \(w)") }
        // Every name below becomes a directory under <out>/trees/<arch>/ (checked at parse/plan time too).
        for n in [name] + plan.subpackages.map(\.name) {
            try RecipeParser.checkName(n, "package name", at: recipe.package.location)
        }
        let epoch = Self.sourceDateEpoch(for: req.recipePath, given: req.sourceDateEpoch)

        // Sources: digest-checked, from the cache (downloaded outside the sandbox when missing).
        let cache = SourceCache(root: absolute(req.sourceCacheDirectory))
        var sources: [SourceUsed] = []
        var sourceFiles: [FetchRequest: String] = [:]
        let recipeDir = absolute(recipe.directory.isEmpty ? "." : recipe.directory)
        try FetchPolicy.checkEnvironment()
        let policy = FetchPolicy(localRoots: [recipeDir] + [req.sourceDirectory].compactMap { $0.map(absolute) })
        for f in plan.fetches {
            let got = try cache.fetch(f, download: req.download, policy: policy) { self.progress.log("kiln: \($0)") }
            sourceFiles[f] = got.path
            sources.append(SourceUsed(uri: f.uri, sha256: got.sha256, sha512: got.sha512, location: f.location.description))
        }
        let gitCache = GitCache(sourceCache: cache.root, policy: policy)
        var checkouts: [GitCheckoutRequest: (mirror: String, commit: String)] = [:]
        for g in plan.gitCheckouts {
            let got = try gitCache.ensure(g, download: req.download) { self.progress.log("kiln: \($0)") }
            checkouts[g] = got
            sources.append(SourceUsed(uri: g.repository, sha256: "", sha512: "", location: g.location.description, commit: got.commit))
        }

        // Workspace on the output's filesystem so trees can be renamed into place. A failed build's
        // workspace is kept as <out>/tmp/resume-* (not build-*, so removeStaleScratch leaves it).
        removeStaleScratch("\(out)/tmp")
        let resumeDir = ResumeRecord.directory(out: out, package: name, arch: req.arch, variant: recipe.variant)
        let resumeFile = "\(resumeDir)/resume.json"
        var record = ResumeRecord(
            recipe: req.recipePath, recipeDigest: try Digest.hashFile(.sha256, path: req.recipePath).hexString,
            stepsDigest: try ResumeRecord.stepsDigest(plan.steps),
            sources: sources.map { s in s.commit.map { "\(s.uri) @\($0)" } ?? "\(s.uri) \(s.sha256)" },
            sourceDirectoryDigest: try ResumeRecord.directoryDigest(sourceDirectory(req, recipe: recipe).map(absolute)),
            toolchain: req.toolchain.name, toolchainLockDigest: req.toolchain.lockDigest, arch: req.arch,
            variant: recipe.variant, sourceDateEpoch: epoch, installedFromRepository: [], failedStep: 0, failedStepName: "")
        var startStep = 0
        let scratch: String
        if req.resume {
            guard let kept = try ResumeRecord.read(from: resumeFile), isDirectory("\(resumeDir)/workspace") else {
                throw ResumeRefused(package: name, directory: resumeDir, changes: [])
            }
            let installedNow = recipe.environment.packages.isEmpty ? []
                : try (self.installer ?? TreeDependencyInstaller(treesDirectory: "\(out)/trees/\(req.arch)"))
                    .available(BuildPackages.withKilnNames(recipe.environment.packages), arch: req.arch).sorted()
            record.installedFromRepository = installedNow
            let changes = kept.differences(from: record)
            guard changes.isEmpty else { throw ResumeRefused(package: name, directory: resumeDir, changes: changes) }
            guard kept.failedStep >= 0, kept.failedStep < plan.steps.count else {
                throw ResumeRefused(package: name, directory: resumeDir, changes: ["failed step \(kept.failedStep) is not in the plan"])
            }
            startStep = kept.failedStep
            scratch = resumeDir
            for d in ["root", "layers"] where fm.fileExists(atPath: "\(scratch)/\(d)") { try removeTree("\(scratch)/\(d)") }
        } else {
            scratch = "\(out)/tmp/build-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        }
        let ws = "\(scratch)/workspace"
        try fm.createDirectory(atPath: ws, withIntermediateDirectories: true)
        // Resuming: the kept workspace survives any error but the end of a successful build.
        var keep = req.keepWorkspace || req.resume
        defer { if !keep { try? removeTree(scratch) } }
        let packages = [name] + plan.subpackages.map(\.name)
        for p in packages {
            try fm.createDirectory(atPath: "\(ws)/melange-out/\(p)", withIntermediateDirectories: true)
        }

        var sandbox = Sandbox(toolchain: req.toolchain, workspace: ws, sourceDateEpoch: epoch)
        sandbox.variation = req.variation
        sandbox.tmpDirectory = try Self.sharedTmp(in: scratch)
        // melange copies the source directory (`--source-dir`, else `<recipe dir>/<name>/` when it
        // exists) into the workspace. Nothing else of the recipe's directory reaches the sandbox: it may
        // hold `keys/` (the project layout), and a step could copy a key into the package it builds.
        if !req.resume, let sd = sourceDirectory(req, recipe: recipe) {
            guard isDirectory(sd) else { throw KilnMessage("source directory \(sd) does not exist") }
            try copyContents(of: absolute(sd), into: ws)
        }

        // Build-time packages: kiln's own repository first, the toolchain root for the rest.
        var installed: [String] = []
        let wanted = recipe.environment.packages.sorted()
        let installer = self.installer ?? TreeDependencyInstaller(treesDirectory: "\(out)/trees/\(req.arch)")
        if !wanted.isEmpty {
            installed = try installer.available(BuildPackages.withKilnNames(wanted), arch: req.arch).sorted()
            if !installed.isEmpty {
                sandbox.toolchain = try installer.install(installed, arch: req.arch, over: req.toolchain, scratch: "\(scratch)/root")
                sandbox.layers = try installer.layers(installed, arch: req.arch, scratch: "\(scratch)/layers")
            }
        }
        record.installedFromRepository = installed
        if !installed.isEmpty {
            progress.log("kiln: \(name): build packages from kiln's own builds: \(installed.joined(separator: ", "))")
        }
        // Every other name must be something real in the root (BuildPackages), checked before any step.
        let resolution = BuildPackages.resolve(wanted, fromKiln: installed, root: req.toolchain.rootPath, layers: sandbox.layers)
        if !resolution.missing.isEmpty {
            throw BuildPackages.missingError(resolution.missing, what: name, toolchain: req.toolchain, location: recipe.package.location)
        }
        let fromRoot = resolution.provided.compactMap { p -> String? in
            switch p.source {
            case .kiln: return nil
            case .debian(let d): return d == p.name ? "\(p.name) (Debian)" : "\(p.name) (Debian \(d))"
            case .commands(let c): return "\(p.name) (\(c.joined(separator: ", ")) on PATH)"
            }
        }
        if !fromRoot.isEmpty {
            progress.log("kiln: \(name): build packages found in \(req.toolchain.described): \(fromRoot.joined(separator: ", "))")
        }

        try BuildRootCheck.check(plan.requiredCommands, toolchain: sandbox.toolchain, layers: sandbox.layers, what: name)

        // Log: written under a temporary name, renamed to <out>/logs/ when the build ends either way.
        let logName = "\(name)-\(recipe.package.fullVersion)-\(req.arch)\(recipe.variant == "standard" ? "" : "-" + recipe.variant).log"
        let logPath = "\(out)/logs/\(logName)"
        try fm.createDirectory(atPath: "\(out)/logs", withIntermediateDirectories: true)
        AtomicFile.removeStaleTemporaries(in: "\(out)/logs")
        AtomicFile.removeStaleTemporaries(in: "\(out)/trees/\(req.arch)")
        let tmpLog = AtomicFile.temporaryPath(for: logPath)
        _ = fm.createFile(atPath: tmpLog, contents: nil)
        defer { try? AtomicFile.rename(tmpLog, to: logPath) }
        appendLog(tmpLog, "kiln \(KilnVersion.current): building \(name) \(recipe.package.fullVersion) for \(req.arch), variant \(recipe.variant), SOURCE_DATE_EPOCH=\(epoch), toolchain \(sandbox.toolchain.name)\n")

        let started = Date()
        let numbering = StepNumbering(plan.steps)
        if req.resume {
            appendLog(tmpLog, "kiln: resuming at step \(numbering.number[startStep])/\(numbering.total) in the kept workspace \(ws); earlier steps ran in a failed build\n")
            progress.log("kiln: \(name): resuming at step \(numbering.number[startStep])/\(numbering.total) (\(plan.steps[startStep].name)) in \(ws)")
        }
        for (i, step) in plan.steps.enumerated() where i >= startStep {
            let label = "\(name): \(step.package == name ? "" : step.package + ": ")\(step.name)"
            if let prep = step.preparation, case .fetch(let f) = prep, let file = sourceFiles[f] {
                let dir = try hostPath(step.workingDirectory, workspace: ws, at: step.location)
                let dest = "\(dir)/\(f.fileName)"
                try? fm.removeItem(atPath: dest)
                try fm.copyItem(atPath: file, toPath: dest)
                chmod(dest, 0o644)
            }
            if let prep = step.preparation, case .gitCheckout(let g) = prep, let got = checkouts[g] {
                let dir = try hostPath(g.destination, workspace: ws, at: g.location)
                appendLog(tmpLog, "\n==> git-checkout \(g.repository) at \(got.commit) into \(g.destination)\n"
                          + g.cherryPicks.map { "    cherry-pick \($0.commit): \($0.comment)\n" }.joined())
                try gitCache.checkout(g, mirror: got.mirror, commit: got.commit, into: dir, download: req.download,
                                      sourceDateEpoch: epoch)
                try normalizeTree(dir, epoch: epoch)
            }
            guard let script = step.script else { continue }
            appendLog(tmpLog, "\n==> [\(numbering.number[i])/\(numbering.total)] \(step.package): \(step.name)\(numbering.part[i]) (\(step.location))\n")
            var env: [String: String] = [:]
            for (k, v) in step.environment { env[k] = v }
            let status = try runWithProgress(label: label + numbering.part[i], step: numbering.number[i], of: numbering.total, log: tmpLog) {
                try sandbox.run(script: script, workingDirectory: step.workingDirectory, environment: env, logFile: tmpLog)
            }
            if status != 0 {
                appendLog(tmpLog, "\n==> step failed with exit status \(status)\n")
                progress.finish()
                // Keep the workspace for `--resume`: moved to the resume directory, record beside it.
                var hint: String?
                keep = req.keepWorkspace
                if req.keepFailedForResume {
                    do {
                        if scratch != resumeDir {
                            if fm.fileExists(atPath: resumeDir) { try removeTree(resumeDir) }
                            try AtomicFile.rename(scratch, to: resumeDir)
                        }
                        keep = true
                        record.failedStep = i
                        record.failedStepName = step.name
                        try record.write(to: resumeFile)
                        hint = "workspace kept at \(resumeDir)/workspace; `kiln build --resume \(req.recipePath)` resumes from step \(numbering.number[i])/\(numbering.total) (\(step.name))"
                    } catch {
                        progress.log("kiln: \(name): cannot keep the workspace for --resume: \(error)")
                    }
                }
                keep = keep || req.resume   // a resumed build never drops its kept workspace on failure
                if hint == nil, req.keepWorkspace { progress.log("kiln: workspace kept at \(ws)") }
                throw BuildFailure(package: name, step: step.name, location: step.location, status: status,
                                   logPath: logPath, tail: lastLines(of: tmpLog, 50), resumeHint: hint)
            }
        }
        progress.finish()

        // Trees: normalized (mtimes = SOURCE_DATE_EPOCH), then renamed into place.
        let treesDir = "\(out)/trees/\(req.arch)"
        try fm.createDirectory(atPath: treesDir, withIntermediateDirectories: true)
        try checkTrees(packages, workspace: ws, location: recipe.package.location)
        for p in packages { try normalizeTree("\(ws)/melange-out/\(p)", epoch: epoch) }
        for p in packages { try installTree(from: "\(ws)/melange-out/\(p)", to: "\(treesDir)/\(p)") }

        func meta(_ n: String, _ d: Dependencies, _ o: PackageOptions, _ desc: String, _ scripts: [String: String],
                  url: String?, commit: String?) -> PackageMetadata {
            PackageMetadata(name: n, origin: name, version: recipe.package.version, epoch: recipe.package.epoch,
                            fullVersion: recipe.package.fullVersion, description: desc, url: url, commit: commit,
                            licenses: recipe.package.copyright.map(\.license), runtime: d.runtime, provides: d.provides,
                            replaces: d.replaces, providerPriority: d.providerPriority, noProvides: o.noProvides,
                            noDepends: o.noDepends, noCommands: o.noCommands, noVersionedShlibDeps: o.noVersionedShlibDeps,
                            scriptlets: scripts, tree: "\(treesDir)/\(n)")
        }
        let ctx = try recipe.substitutionContext(arch: req.arch)
        func subst(_ d: Dependencies, _ at: SourceLocation) throws -> Dependencies {
            var d = d
            d.runtime = try d.runtime.map { try ctx.substitute($0, at: at) }
            d.provides = try d.provides.map { try ctx.substitute($0, at: at) }
            d.replaces = try d.replaces.map { try ctx.substitute($0, at: at) }
            return d
        }
        let p = recipe.package
        let result = BuildResult(
            recipe: req.recipePath, arch: req.arch, variant: recipe.variant, sourceDateEpoch: epoch,
            toolchain: req.toolchain.name, toolchainLockDigest: req.toolchain.lockDigest,
            package: meta(name, try subst(p.dependencies, p.location), p.options, p.description, p.scriptlets, url: p.url, commit: p.commit),
            subpackages: try plan.subpackages.map {
                meta($0.name, try subst($0.dependencies, $0.location), $0.options, $0.description, $0.scriptlets,
                     url: $0.url ?? p.url, commit: $0.commit ?? p.commit)
            },
            sources: sources, buildPackages: plan.buildPackages, installedFromRepository: installed,
            providedByToolchain: resolution.provided.filter { $0.source != .kiln }.map(\.name), log: logPath)
        var finished = result
        if req.resume { finished.resumed = true; finished.resumedFromStep = startStep }
        try finished.write(to: "\(treesDir)/\(name).build.json")
        // Built: a kept resumable workspace of this package is obsolete (a resumed one is `scratch`).
        try? fm.removeItem(atPath: resumeFile)
        keep = req.keepWorkspace
        if !req.resume, !keep, fm.fileExists(atPath: resumeDir) { try? removeTree(resumeDir) }
        appendLog(tmpLog, "\n==> built \(packages.joined(separator: ", ")) in \(KilnCore.Progress.format(Date().timeIntervalSince(started)))\(req.resume ? " (resumed)" : "")\n")
        return finished
    }

    /// Orders recipes so that a recipe comes after those that produce its build packages.
    public static func order(_ recipes: [Recipe]) throws -> [Recipe] {
        var producer: [String: Int] = [:]
        for (i, r) in recipes.enumerated() {
            for n in r.packageNames + r.package.dependencies.provides.map({ DependencyAtom.name(of: $0) ?? "" }) {
                producer[n] = producer[n] ?? i
            }
        }
        var state = [Int](repeating: 0, count: recipes.count)   // 0 new, 1 visiting, 2 done
        var out: [Recipe] = []
        func visit(_ i: Int, _ chain: [String]) throws {
            if state[i] == 2 { return }
            if state[i] == 1 {
                throw KilnMessage("recipes depend on each other in a cycle: \((chain + [recipes[i].package.name]).joined(separator: " → "))")
            }
            state[i] = 1
            for dep in recipes[i].environment.packages.map(TreeDependencyInstaller.baseName).sorted() {
                if let j = producer[dep], j != i { try visit(j, chain + [recipes[i].package.name]) }
            }
            state[i] = 2
            out.append(recipes[i])
        }
        for i in recipes.indices { try visit(i, []) }
        return out
    }

    // MARK: helpers

    /// The directory whose contents seed the workspace: `--source-dir`, else `<recipe dir>/<name>/`
    /// when it is a directory (for the fips variant, `<name>-fips/` first, then the recipe's own
    /// `<name>/` as melange names it), else none (the recipe's own directory is never used).
    func sourceDirectory(_ req: BuildRequest, recipe: Recipe) -> String? {
        if let sd = req.sourceDirectory { return sd }
        let recipeDir = absolute(recipe.directory.isEmpty ? "." : recipe.directory)
        var names = [recipe.package.name]
        if recipe.appliedOptions.contains(Recipe.fipsVariant), recipe.package.name.hasSuffix(Recipe.fipsSuffix) {
            names.append(String(recipe.package.name.dropLast(Recipe.fipsSuffix.count)))
        }
        return names.map { "\(recipeDir)/\($0)" }.first(where: isDirectory)
    }

    private func runWithProgress(label: String, step: Int, of total: Int, log: String, _ body: @escaping () throws -> Int32) throws -> Int32 {
        guard progress.isTerminal && !progress.quiet else {
            progress.update(label, step: step, of: total)
            return try body()
        }
        // Unchecked, and safe: the step (and whatever it captured) runs only on the detached thread while
        // this thread waits on `done`, polling nothing but the log file; `result` is read after the signal.
        final class Box: @unchecked Sendable {
            let body: () throws -> Int32
            var result: Result<Int32, Error> = .success(0)
            init(_ body: @escaping () throws -> Int32) { self.body = body }
        }
        let box = Box(body)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            do { box.result = .success(try box.body()) } catch { box.result = .failure(error) }
            done.signal()
        }
        repeat {
            let last = lastLines(of: log, 1).first ?? ""
            progress.update(label + (last.isEmpty ? "" : " │ " + String(last.prefix(70))), step: step, of: total)
        } while done.wait(timeout: .now() + 0.5) == .timedOut
        return try box.result.get()
    }

    func appendLog(_ path: String, _ text: String) {
        guard let h = FileHandle(forWritingAtPath: path) else { return }
        h.seekToEndOfFile(); h.write(Data(text.utf8)); try? h.close()
    }

    func lastLines(of path: String, _ n: Int) -> [String] {
        guard let h = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? h.close() }
        let size = h.seekToEndOfFile()
        let want: UInt64 = 64 * 1024
        h.seek(toFileOffset: size > want ? size - want : 0)
        let text = String(decoding: h.readDataToEndOfFile(), as: UTF8.self)
        return Array(text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            .reversed().drop { $0.isEmpty }.reversed().suffix(n))
    }

    /// The host directory for a sandbox path kiln itself writes into (fetch, git-checkout); a `..`
    /// component is refused, so no recipe can make kiln write outside the workspace.
    func hostPath(_ sandboxPath: String, workspace: String, at location: SourceLocation) throws -> String {
        if sandboxPath.split(separator: "/").contains("..") {
            throw KilnMessage("\(location): `\(sandboxPath)` contains `..`; kiln writes sources only inside the workspace (\(SandboxPaths.workspace))")
        }
        let rel: Substring
        if sandboxPath == SandboxPaths.workspace { rel = "" }
        else if sandboxPath.hasPrefix(SandboxPaths.workspace + "/") { rel = sandboxPath.dropFirst(SandboxPaths.workspace.count) }
        else { rel = Substring(sandboxPath) }   // outside the workspace: keep it inside anyway
        return try realDirectory(rel.split(separator: "/").map(String.init), under: workspace, at: location)
    }

    /// `workspace/<components>` as a real directory (missing ones are made): kiln runs on the host, and
    /// an earlier step may have left a symlink there (`ln -s /etc /home/build/src`) to make kiln copy a
    /// source through it — a link or non-directory on the way is refused.
    func realDirectory(_ components: [String], under workspace: String, at location: SourceLocation) throws -> String {
        var cur = workspace
        for c in components where c != "." {
            cur += "/" + c
            var st = stat()
            if lstat(cur, &st) != 0 {
                guard mkdir(cur, 0o755) == 0 else {
                    throw KilnMessage("\(location): cannot create \(cur): \(String(cString: strerror(errno)))")
                }
                continue
            }
            guard (st.st_mode & S_IFMT) == S_IFDIR else {
                throw KilnMessage("\(location): \(cur.dropFirst(workspace.count).isEmpty ? "/" : String(cur.dropFirst(workspace.count))) in the workspace "
                                  + "is a \((st.st_mode & S_IFMT) == S_IFLNK ? "symlink" : "non-directory") left by an earlier step; "
                                  + "kiln never writes sources through it")
            }
        }
        return cur
    }

    /// Each package's tree must still be a real directory when the steps are done: a step that
    /// replaced `${{targets.destdir}}` with a link would make kiln stamp and package host files.
    func checkTrees(_ packages: [String], workspace ws: String, location: SourceLocation) throws {
        for p in ["melange-out"] + packages.map({ "melange-out/\($0)" }) {
            var st = stat()
            guard lstat("\(ws)/\(p)", &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
                throw KilnMessage("\(location): \(SandboxPaths.workspace)/\(p) is not a directory after the build "
                                  + "(a step removed it or replaced it with a link); refusing to package it")
            }
        }
    }

    func absolute(_ p: String) -> String {
        p.hasPrefix("/") ? p : FileManager.default.currentDirectoryPath + "/" + p
    }

    func isDirectory(_ p: String) -> Bool {
        var d: ObjCBool = false
        return FileManager.default.fileExists(atPath: p, isDirectory: &d) && d.boolValue
    }

    func copyContents(of src: String, into dst: String) throws {
        for n in try FileManager.default.contentsOfDirectory(atPath: src).sorted() {
            try FileManager.default.copyItem(atPath: "\(src)/\(n)", toPath: "\(dst)/\(n)")
        }
    }

    /// Sets every mtime in a tree to `epoch` (symlinks themselves included) and drops group/other write.
    func normalizeTree(_ root: String, epoch: Int64) throws {
        var paths = [root]
        if let e = FileManager.default.enumerator(atPath: root) {
            while let f = e.nextObject() as? String { paths.append("\(root)/\(f)") }
        }
        var ts = [timespec(tv_sec: Int(epoch), tv_nsec: 0), timespec(tv_sec: Int(epoch), tv_nsec: 0)]
        for p in paths {
            if utimensat(AT_FDCWD, p, &ts, AT_SYMLINK_NOFOLLOW) != 0 {
                throw KilnMessage("cannot set the time of \(p): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Renames a finished tree into place; an older tree at `dest` is replaced.
    func installTree(from src: String, to dest: String) throws {
        let tmp = AtomicFile.temporaryPath(for: dest)
        try AtomicFile.rename(src, to: tmp)
        var old: String?
        if FileManager.default.fileExists(atPath: dest) {
            old = AtomicFile.temporaryPath(for: dest) + ".old"
            try AtomicFile.rename(dest, to: old!)
        }
        try AtomicFile.rename(tmp, to: dest)
        if let old { try? removeTree(old) }
    }

    /// Removes the scratch directories of builds and tests whose process is gone (killed runs).
    func removeStaleScratch(_ dir: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return }
        for n in names where n.hasPrefix("build-") || n.hasPrefix("test-") {
            let parts = n.split(separator: "-")
            guard parts.count >= 3, let pid = Int32(parts[parts.count - 2]), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { try? removeTree("\(dir)/\(n)") }
        }
    }

    /// Removes a directory tree even where the build left read-only directories.
    func removeTree(_ path: String) throws {
        if let e = FileManager.default.enumerator(atPath: path) {
            while let f = e.nextObject() as? String {
                var st = stat()
                if lstat("\(path)/\(f)", &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { chmod("\(path)/\(f)", 0o755) }
            }
        }
        try FileManager.default.removeItem(atPath: path)
    }
}
