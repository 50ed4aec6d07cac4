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
/// With a store that shares no filesystem (`RegistryStore`) the worker builds in a private work
/// directory, from build-time packages it pulls by digest, and pushes its build log either way.
public enum NightlyNode {
    /// Builds node `nodeID` of the plan at `planLocation` into `store`; returns the result written.
    public static func build(planLocation: String, nodeID: String, store: NightlyStore,
                             environment: [String: String] = ProcessInfo.processInfo.environment) throws -> WorkerResult {
        let plan = try store.loadPlan(planLocation)
        guard let job = plan.nodes[nodeID] else {
            throw KilnMessage("\(planLocation): no node \(nodeID) in this plan (nodes: \(plan.nodes.keys.sorted().joined(separator: ", ")))")
        }
        let started = Date().timeIntervalSince1970
        let logPath = store.logPath(nodeID) + ".build"
        try FileManager.default.createDirectory(atPath: (logPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        do {
            let r = try build(plan: plan, job: job, store: store, logPath: logPath, environment: environment, started: started)
            try store.publishLog(nodeID)
            if !(store is SharedDirectoryStore) { try? FileManager.default.removeItem(atPath: logPath) }
            return r
        } catch {
            // the coordinator sees why in the node's log, wherever this worker ran
            appendLog(logPath, "kiln nightly-node: \(error)\n")
            try? store.publishLog(nodeID)
            if !(store is SharedDirectoryStore) { try? FileManager.default.removeItem(atPath: logPath) }
            throw error
        }
    }

    static func build(plan: NightlyWorkerPlan, job: NodeJob, store: NightlyStore, logPath: String,
                      environment: [String: String], started: Double) throws -> WorkerResult {
        let nodeID = job.id
        if let want = job.input.components["recipe"], let d = FileManager.default.contents(atPath: job.recipePath),
           try Digest.sha256Hex(d) != want {
            throw KilnMessage("\(job.recipePath): changed since the coordinator planned \(nodeID); rerun `kiln nightly`")
        }
        let tc = try ToolchainSpec.resolve(plan.toolchain, out: plan.outputRoot, lockPath: plan.toolchainLock)
        // A throwaway key signs this worker's packages and private index; the coordinator re-signs
        // the packages with its own key on import (workers never see it) and is trusted here.
        let signer = try APKSigner(key: try PrivateKey.generate(.rsa(bits: 2048)), keyName: "kiln-nightly-worker.rsa.pub")
        let fm = FileManager.default
        let name = String(ResultStore.fileName(nodeID).dropLast(5))
        // Shared store: the coordinator's repository, output and source cache, staging in the store.
        // Otherwise: a private work directory with the build-time packages pulled by digest.
        let work = (store as? SharedDirectoryStore).map { "\($0.root)/staging/\(name).\(getpid())" }
            ?? NSTemporaryDirectory() + "kiln-nightly-node-\(name)-\(getpid())"
        defer { try? fm.removeItem(atPath: work) }
        var (outputRoot, repository, sourceCache) = (plan.outputRoot, plan.repository, plan.sourceCache)
        var pulled = ""
        let staging = store is SharedDirectoryStore ? work : work + "/staging"
        if let n = try store.fetchInputs(nodeID, into: "\(work)/packages/\(plan.arch)") {
            outputRoot = work; repository = work + "/packages"
            if !(sourceCache.map { fm.fileExists(atPath: $0) } ?? false) { sourceCache = work + "/sources" }
            try fm.createDirectory(atPath: "\(repository)/\(plan.arch)", withIntermediateDirectories: true)
            _ = try APKRepository.updateIndex(directory: "\(repository)/\(plan.arch)", signer: signer)   // this worker's private index
            pulled = "kiln nightly-node: \(n) build-time package(s) pulled by digest into \(repository)\n"
        }
        guard !plan.packageKeyName.isEmpty, plan.packageKeyName.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }),
              !plan.packageKeyName.hasPrefix("."), plan.packageKeyName != signer.keyName else {
            throw KilnMessage("worker plan of run \(plan.runID): bad package key name \(plan.packageKeyName)")
        }
        let trusted = "\(work)/keys/\(plan.packageKeyName)"
        try AtomicFile.write(plan.packageKeyPEM, to: trusted)
        var exec = RecipeNodeExecutor(arch: plan.arch, toolchain: tc, pipelineDirectories: plan.pipelineDirectories, download: plan.download,
                                      signer: SignerBox(signer), repository: repository, distro: plan.distro, supplier: plan.supplier)
        exec.sourceCache = sourceCache
        exec.fipsRegistry = plan.fipsRegistry
        exec.packageDirectory = staging
        exec.trustedKeys = [trusted]
        let node = CatalogNode(id: job.id, kind: .package, name: job.name, variant: job.variant, file: job.recipePath,
                               version: job.version, payload: RecipeNodePayload(recipePath: job.recipePath, variant: job.variant))
        let ctx = NodeContext(node: node, key: job.input, logPath: logPath, outputRoot: outputRoot, runID: plan.runID,
                              dependencies: [:], isCancelled: { false })
        let t0 = Date()
        let outcome = try exec.execute(ctx)
        appendLog(logPath, pulled)
        var packages: [StoredPackage] = []
        var outputs: [OutputRecord] = []
        for o in outcome.outputs where o.kind == "apk" {
            // the executor recorded the staged path; the repository path is what the coordinator imports to
            let file = (o.path as NSString).lastPathComponent
            let staged = o.path.hasPrefix("/") ? o.path : outputRoot + "/" + o.path
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
        var result = WorkerResult(result: stored, packages: packages, worker: worker, jobID: environment["SLURM_JOB_ID"])
        result.startedAt = started; result.finishedAt = Date().timeIntervalSince1970
        try store.writeResult(result)
        return result
    }

    static func appendLog(_ path: String, _ text: String) {
        if let h = FileHandle(forWritingAtPath: path) { h.seekToEndOfFile(); h.write(Data(text.utf8)); try? h.close() }
        else { _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) }
    }
}
