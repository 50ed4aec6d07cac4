import Foundation
import KilnAPK
import KilnBuild
import KilnCore
import KilnCrypto
import KilnOCI

/// `kiln nightly-node`: a worker builds exactly one node of a run's plan with the local recipe
/// executor, packages it (signed, into a staging directory, never into the repository), moves the
/// packages into the store by content digest and writes the node's result there atomically — the
/// last step, so a result exists only for a finished build. The coordinator imports it.
public enum NightlyNode {
    /// Builds node `nodeID` of the plan at `planPath` into `store`; returns the result written.
    public static func build(planPath: String, nodeID: String, store: SharedDirectoryStore,
                             environment: [String: String] = ProcessInfo.processInfo.environment) throws -> WorkerResult {
        let plan = try SharedDirectoryStore.loadPlan(path: planPath)
        guard let job = plan.nodes[nodeID] else {
            throw KilnMessage("\(planPath): no node \(nodeID) in this plan (nodes: \(plan.nodes.keys.sorted().joined(separator: ", ")))")
        }
        if let want = job.input.components["recipe"], let d = FileManager.default.contents(atPath: job.recipePath),
           try Digest.sha256Hex(d) != want {
            throw KilnMessage("\(job.recipePath): changed since the coordinator planned \(nodeID); rerun `kiln nightly`")
        }
        let tc = try ToolchainSpec.resolve(plan.toolchain, out: plan.outputRoot, lockPath: plan.toolchainLock)
        let signer = try APKSigner.load(path: plan.signingKey)
        let staging = "\(store.root)/staging/\(ResultStore.fileName(nodeID).dropLast(5)).\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: staging) }
        var exec = RecipeNodeExecutor(arch: plan.arch, toolchain: tc, pipelineDirectories: plan.pipelineDirectories, download: plan.download,
                                      signer: SignerBox(signer), repository: plan.repository, distro: plan.distro, supplier: plan.supplier)
        exec.sourceCache = plan.sourceCache
        exec.fipsRegistry = plan.fipsRegistry
        exec.packageDirectory = staging
        let node = CatalogNode(id: job.id, kind: .package, name: job.name, variant: job.variant, file: job.recipePath,
                               version: job.version, payload: RecipeNodePayload(recipePath: job.recipePath, variant: job.variant))
        let logPath = store.logPath(nodeID) + ".build"
        let ctx = NodeContext(node: node, key: job.input, logPath: logPath, outputRoot: plan.outputRoot, runID: plan.runID,
                              dependencies: [:], isCancelled: { false })
        let t0 = Date()
        let outcome = try exec.execute(ctx)
        var packages: [StoredPackage] = []
        var outputs: [OutputRecord] = []
        for o in outcome.outputs where o.kind == "apk" {
            // the executor recorded the staged path; the repository path is what the coordinator imports to
            let file = (o.path as NSString).lastPathComponent
            let staged = o.path.hasPrefix("/") ? o.path : plan.outputRoot + "/" + o.path
            let digest = try store.putBlob(movingFile: staged)
            guard digest == o.digest else { throw KilnMessage("\(staged): changed while it was stored (\(o.digest) → \(digest))") }
            packages.append(StoredPackage(fileName: file, digest: digest, size: o.size, version: o.version ?? ""))
            let repoPath = "\(plan.repository)/\(plan.arch)/\(file)"
            var rec = o
            rec.path = RecipeNodeExecutor.relative(repoPath, to: plan.outputRoot)
            outputs.append(rec)
        }
        let stored = StoredResult(id: nodeID, input: job.input, outputs: outputs, version: outcome.version ?? job.version,
                                  runID: plan.runID, durationSeconds: Date().timeIntervalSince(t0),
                                  provides: outcome.provides.isEmpty ? nil : outcome.provides.sorted(),
                                  runtimeDependencies: outcome.runtimeDependencies.isEmpty ? nil : outcome.runtimeDependencies.sorted())
        let worker = environment["SLURMD_NODENAME"] ?? ProcessInfo.processInfo.hostName
        let result = WorkerResult(result: stored, packages: packages, worker: worker, jobID: environment["SLURM_JOB_ID"])
        try store.writeResult(result)
        return result
    }
}
