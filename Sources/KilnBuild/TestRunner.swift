import Foundation
import KilnCore
import KilnRecipe

/// The outcome of one package's `test:` block.
public struct TestOutcome: Sendable {
    public var package: String
    public var passed: Bool
    public var stepsRun: Int
    /// Unknown pipelines reported as skipped, with where the recipe uses them.
    public var skipped: [String]
    public var log: String
}

/// A failing test: names the package, step, recipe line and the log (with its last lines).
public struct TestFailure: KilnError {
    public var package: String
    public var step: String
    public var location: SourceLocation
    public var status: Int32
    public var logPath: String
    public var tail: [String]
    public var description: String {
        "\(location): test of \(package) failed in step `\(step)` (exit \(status))\n"
            + "--- last \(tail.count) log lines ---\n" + tail.joined(separator: "\n") + "\n--- full log: \(logPath)"
    }
}

extension Builder {
    /// Runs the recipe's `test:` blocks (melange-style) in a sandbox holding the built package trees
    /// from `<out>/trees/<arch>/` (the package under test, and those of `test.environment.contents.packages`
    /// that kiln built) laid over the toolchain root. Unknown pipelines are skipped, not failures.
    public func test(_ req: BuildRequest) throws -> [TestOutcome] {
        let fm = FileManager.default
        let out = absolute(req.outputDirectory)
        let recipe = try load(req.recipePath, lenient: req.lenient, variant: req.variant)
        let library = try DirectoryPipelineLibrary.standard(extra: req.pipelineDirectories, lenient: req.lenient)
        let plans = try PipelineExpander(library: library, arch: req.arch).planTests(recipe)
        let epoch = Self.sourceDateEpoch(for: req.recipePath, given: req.sourceDateEpoch)
        let trees = "\(out)/trees/\(req.arch)"
        var outcomes: [TestOutcome] = []
        if plans.isEmpty { progress.log("kiln: \(recipe.package.name): the recipe has no test: blocks") }
        for plan in plans {
            let tree = "\(trees)/\(plan.package)"
            guard isDirectory(tree) else {
                throw KilnMessage("\(plan.location): no built tree for \(plan.package) at \(tree): run `kiln build \(req.recipePath)` first")
            }
            var layers = [tree]
            var fromToolchain: [String] = []
            for p in plan.packages where p != plan.package {
                if isDirectory("\(trees)/\(p)") { layers.append("\(trees)/\(p)") } else { fromToolchain.append(p) }
            }
            if !fromToolchain.isEmpty {
                let r = BuildPackages.resolve(fromToolchain, fromKiln: [], root: req.toolchain.rootPath, layers: layers)
                if !r.missing.isEmpty {
                    throw BuildPackages.missingError(r.missing, what: "test of \(plan.package)", toolchain: req.toolchain, location: plan.location)
                }
                progress.log("kiln: \(plan.package) test: packages found in \(req.toolchain.described): \(r.provided.map(\.name).joined(separator: ", "))")
            }
            let skipped = plan.warnings.filter { $0.message.hasPrefix("skipped:") }.map(\.description)
            for w in plan.warnings { progress.log("kiln: \(w)") }

            let scratch = "\(out)/tmp/test-\(plan.package)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            let ws = "\(scratch)/workspace"
            try fm.createDirectory(atPath: ws, withIntermediateDirectories: true)
            defer { if !req.keepWorkspace { try? removeTree(scratch) } }
            if let sd = sourceDirectory(req, recipe: recipe) {
                try copyContents(of: absolute(sd), into: ws)
            }
            try writeFileLists(layers, into: "\(ws)/.kiln/packages")
            var sandbox = Sandbox(toolchain: req.toolchain, workspace: ws, sourceDateEpoch: epoch)
            sandbox.tmpDirectory = try Self.sharedTmp(in: scratch)
            sandbox.layers = layers
            try BuildRootCheck.check(plan.requiredCommands, toolchain: req.toolchain, layers: layers, what: "test of \(plan.package)")

            let logPath = "\(out)/logs/\(plan.package)-\(recipe.package.fullVersion)-\(req.arch)-test.log"
            try fm.createDirectory(atPath: "\(out)/logs", withIntermediateDirectories: true)
            let tmpLog = AtomicFile.temporaryPath(for: logPath)
            _ = fm.createFile(atPath: tmpLog, contents: nil)
            defer { try? AtomicFile.rename(tmpLog, to: logPath) }
            appendLog(tmpLog, "kiln \(KilnVersion.current): testing \(plan.package) \(recipe.package.fullVersion) (\(req.arch))\n")
            let numbering = StepNumbering(plan.steps)
            for (i, step) in plan.steps.enumerated() {
                guard let script = step.script else { continue }
                appendLog(tmpLog, "\n==> [\(numbering.number[i])/\(numbering.total)] test \(plan.package): \(step.name)\(numbering.part[i]) (\(step.location))\n")
                progress.update("test \(plan.package): \(step.name)\(numbering.part[i])", step: numbering.number[i], of: numbering.total)
                let status = try sandbox.run(script: script, workingDirectory: step.workingDirectory,
                                             environment: step.environment, logFile: tmpLog)
                if status != 0 {
                    progress.finish()
                    throw TestFailure(package: plan.package, step: step.name, location: step.location, status: status,
                                      logPath: logPath, tail: lastLines(of: tmpLog, 50))
                }
            }
            progress.finish()
            appendLog(tmpLog, "\n==> test of \(plan.package) passed\n")
            outcomes.append(TestOutcome(package: plan.package, passed: true, stepsRun: plan.steps.filter { $0.script != nil }.count,
                                        skipped: skipped, log: logPath))
        }
        return outcomes
    }

    /// `<dir>/NAME.files`: the absolute paths (as the test sees them) of every file and link in each
    /// package tree laid into the test root, sorted — what `test/tw/ldd-check` and `test/pkgconf` read
    /// (melange's use `apk info -L`; a kiln test root has no apk database).
    /// `scratch/tmp`, made world-writable with the sticky bit like a real /tmp: the sandbox's /tmp
    /// for every step of one build or test (`Sandbox.tmpDirectory`).
    static func sharedTmp(in scratch: String) throws -> String {
        let tmp = "\(scratch)/tmp"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        guard chmod(tmp, 0o1777) == 0 else { throw KilnMessage("cannot make \(tmp) the sandbox's /tmp: chmod failed (errno \(errno))") }
        return tmp
    }

    func writeFileLists(_ trees: [String], into dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for tree in trees {
            var paths: [String] = []
            if let e = FileManager.default.enumerator(atPath: tree) {
                while let rel = e.nextObject() as? String {
                    if let t = e.fileAttributes?[.type] as? FileAttributeType, t != .typeDirectory { paths.append("/" + rel) }
                }
            }
            let name = (tree as NSString).lastPathComponent
            try Data((paths.sorted().joined(separator: "\n") + (paths.isEmpty ? "" : "\n")).utf8)
                .write(to: URL(fileURLWithPath: "\(dir)/\(name).files"))
        }
    }
}
