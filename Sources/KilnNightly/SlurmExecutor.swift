import Foundation
import KilnAPK
import KilnCore
import KilnCrypto
import KilnRecipe

/// How a distributed run reaches Slurm and its workers.
public struct SlurmSettings: Sendable {
    /// The store every worker reaches: an absolute shared directory or `registry://HOST[:PORT]/REPO`
    /// (see `NightlyStores.open`).
    public var store: String
    /// The `kiln` executable the jobs run (absolute, on the shared filesystem).
    public var workerCommand: String
    /// Extra `sbatch` arguments (e.g. `--partition=build`).
    public var sbatchArguments: [String] = []
    /// Seconds between `scontrol show job` polls.
    public var pollInterval: Double = 0.2
    /// A job still PENDING this many seconds after submission is cancelled and its node fails with
    /// Slurm's reason (nil: wait as long as it takes).
    public var pendingTimeout: Double?
    /// A configuration with the required parts.
    public init(store: String, workerCommand: String) {
        self.store = store; self.workerCommand = workerCommand
    }
}

/// Runs each ready package node as one Slurm batch job (`kiln nightly-node`), waits until the job
/// leaves the queue and then trusts only the store: the node succeeded when the worker's result
/// for this run and this input key is there (Slurm's exit state alone proves nothing — a
/// dependency on an unknown job counts as satisfied). A job gone without a result is submitted
/// once more, then the node fails. Workers never get the package signing key: the coordinator
/// imports the packages (by digest), signs them and the APKINDEX; image nodes run locally here.
public final class SlurmExecutor: NodeExecutor, @unchecked Sendable {
    let settings: SlurmSettings
    let store: NightlyStore
    let base: NightlyWorkerPlan       // nodes and runID filled in by `prepare`
    let local: NodeExecutor
    let signer: SignerBox
    private let lock = NSLock()
    private var planPath: String?
    private var workerPlan: NightlyWorkerPlan?
    private var running: Set<String> = []

    /// An executor submitting to Slurm with `settings`; `local` builds image nodes; `base` is the
    /// run-wide part of the worker plan.
    public init(settings: SlurmSettings, base: NightlyWorkerPlan, signer: SignerBox, local: NodeExecutor) throws {
        self.settings = settings; self.store = try NightlyStores.open(settings.store)
        self.base = base; self.signer = signer; self.local = local
    }

    /// Writes the run's worker plan (every package node to build) into the store.
    public func prepare(plan: Plan, runID: String) throws {
        let p = base.filled(plan: plan, runID: runID)
        let path = try store.writePlan(p)
        lock.lock(); planPath = path; workerPlan = p; lock.unlock()
    }

    /// Job ids submitted and not yet seen leaving the queue.
    public var runningJobs: [String] { lock.lock(); defer { lock.unlock() }; return running.sorted() }

    /// `scancel` every job this executor submitted that is still queued or running (by id).
    public func cancelAll() {
        let ids = runningJobs
        if !ids.isEmpty { _ = try? Subprocess("scancel", ids).run() }
    }

    public func execute(_ ctx: NodeContext) throws -> NodeOutcome {
        lock.lock(); let path = planPath, wp = workerPlan; lock.unlock()
        guard let path, let wp, let job = wp.nodes[ctx.node.id] else { return try local.execute(ctx) }
        var notes: [String] = []
        for p in [store.logPath(job.id), store.logPath(job.id) + ".build"] where FileManager.default.fileExists(atPath: p) {
            try FileManager.default.removeItem(atPath: p)
        }
        // build-time packages: the repository as it is now (a no-op when workers see it)
        try store.publishInputs(job.id, packagesDirectory: "\(wp.repository)/\(wp.arch)")
        for attempt in 1...2 {
            try store.removeResult(job.id)
            let submitted = Date().timeIntervalSince1970
            let jobID = try submit(job, planPath: path, attempt: attempt)
            let (state, slurmNode) = try wait(jobID, ctx)
            let seen = Date().timeIntervalSince1970
            appendLog(ctx.logPath, store.log(job.id))
            if let r = store.result(job.id), r.result.runID == wp.runID, r.result.input.key == job.input.key {
                if let a = r.startedAt, let b = r.finishedAt {
                    let f = { (x: Double) in String(format: "%.3f", x) }
                    appendLog(ctx.logPath, "kiln: slurm job \(jobID) on \(r.worker): submit→start \(f(a - submitted)) s, build \(f(b - a)) s, end→seen \(f(seen - b)) s\n")
                }
                let outcome = try importResult(r, arch: wp.arch, repository: wp.repository)
                var o = outcome
                o.placement = "slurm job \(jobID) on \(r.worker)"
                return o
            }
            let note = "slurm job \(jobID) (attempt \(attempt)) ended \(state) on \(slurmNode) without a result in the store"
            appendLog(ctx.logPath, "kiln: \(note)\n")
            notes.append(note)
        }
        throw KilnMessage("\(job.id): \(notes.joined(separator: "; ")) (log: \(store.logPath(job.id)))")
    }

    /// The `sbatch` command line of a node's job.
    func sbatchArguments(_ job: NodeJob, planPath: String) throws -> [String] {
        let wrap = ["exec", settings.workerCommand, "nightly-node", "--plan", planPath, "--node", job.id, "--store", store.locator]
            .map(Self.shellQuote).joined(separator: " ")
        // a shared store keeps the job's output; otherwise the worker pushes its build log itself
        let output = store is SharedDirectoryStore ? store.logPath(job.id) : "/dev/null"
        var args = ["--parsable", "--job-name=kiln-\(job.id)", "--output=\(output)", "--open-mode=append"]
        args += try Self.resourceArguments(recipePath: job.recipePath)
        return args + settings.sbatchArguments + ["--wrap", wrap]
    }

    func submit(_ job: NodeJob, planPath: String, attempt: Int) throws -> String {
        try FileManager.default.createDirectory(atPath: (store.logPath(job.id) as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let r = try Subprocess("sbatch", try sbatchArguments(job, planPath: planPath), environment: ProcessInfo.processInfo.environment).run()
        let id = r.stdoutString.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        guard r.succeeded, !id.isEmpty, id.allSatisfy(\.isNumber) else {
            throw KilnMessage("\(job.id): sbatch failed (status \(r.status)): \(r.stderrString.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        lock.lock(); running.insert(id); lock.unlock()
        return id
    }

    static let finalStates: Set<String> = ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL",
                                          "DEADLINE", "OUT_OF_MEMORY", "SPECIAL_EXIT", "REVOKED"]

    /// Polls `scontrol show job -o` until the job is in a final state or gone; on cancellation
    /// cancels it (by id) and throws. Returns the final state and the node it ran on.
    func wait(_ jobID: String, _ ctx: NodeContext) throws -> (state: String, node: String) {
        defer { lock.lock(); running.remove(jobID); lock.unlock() }
        var node = "?"
        var failures = 0
        let submitted = Date()
        while true {
            if ctx.isCancelled() {
                _ = try? Subprocess("scancel", [jobID]).run()
                throw KilnMessage("\(ctx.node.id): interrupted; cancelled slurm job \(jobID)")
            }
            let r = try Subprocess("scontrol", ["show", "job", "-o", jobID], environment: ProcessInfo.processInfo.environment).run()
            if r.succeeded {
                failures = 0
                let fields = Self.fields(r.stdoutString)
                if let n = fields["NodeList"], n != "(null)", !n.isEmpty { node = n }
                let state = fields["JobState"] ?? "?"
                if Self.finalStates.contains(state) { return (state, node) }
                if state == "PENDING", let limit = settings.pendingTimeout, Date().timeIntervalSince(submitted) > limit {
                    _ = try? Subprocess("scancel", [jobID]).run()
                    throw KilnMessage("\(ctx.node.id): slurm job \(jobID) still PENDING after \(Int(limit)) s (Reason=\(fields["Reason"] ?? "?")); "
                        + "cancelled it — check the partition, the recipe's resources and `squeue -j \(jobID)`")
                }
            } else if r.stderrString.contains("Invalid job id") {
                return ("gone", node)
            } else {
                failures += 1
                if failures >= 50 { throw KilnMessage("\(ctx.node.id): scontrol keeps failing for job \(jobID): \(r.stderrString)") }
            }
            usleep(UInt32(settings.pollInterval * 1e6))
        }
    }

    /// `Key=Value` pairs of one `scontrol -o` line.
    static func fields(_ line: String) -> [String: String] {
        var out: [String: String] = [:]
        for word in line.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            guard let eq = word.firstIndex(of: "=") else { continue }
            out[String(word[..<eq])] = String(word[word.index(after: eq)...])
        }
        return out
    }

    /// Fetches the worker's packages from the store (by digest), signs each with the coordinator's
    /// key in place of the worker's throwaway signature (`APKWriter.resign`) into the repository,
    /// and re-signs the APKINDEX (the coordinator is its only writer). The outputs' digests and
    /// sizes become those of the signed files.
    func importResult(_ r: WorkerResult, arch: String, repository: String) throws -> NodeOutcome {
        guard let signer = signer.signer else { throw KilnMessage("\(r.result.id): the slurm executor needs a package signing key") }
        lock.lock(); defer { lock.unlock() }
        var outputs = r.result.outputs
        for p in r.packages {
            guard !p.fileName.contains("/"), p.fileName.hasSuffix(".apk"), !p.fileName.hasPrefix(".") else {
                throw KilnMessage("\(store.locator): result of \(r.result.id) names a bad package file \(p.fileName); refusing it")
            }
            let fetched = "\(repository)/\(arch)/.\(p.fileName).kiln-import"
            defer { unlink(fetched) }
            try store.getBlob(p.digest, to: fetched)
            let final = "\(repository)/\(arch)/\(p.fileName)"
            let size = try APKWriter.resign(fetched, to: final, signer: signer)
            let digest = "sha256:" + (try Digest.hashFile(.sha256, path: final).hexString)
            for i in outputs.indices where outputs[i].kind == "apk" && (outputs[i].path as NSString).lastPathComponent == p.fileName {
                outputs[i].digest = digest; outputs[i].size = Int64(size)
            }
        }
        _ = try APKRepository.updateIndex(directory: "\(repository)/\(arch)", signer: signer)
        return NodeOutcome(outputs: outputs, version: r.result.version, provides: r.result.provides ?? [],
                           runtimeDependencies: r.result.runtimeDependencies ?? [])
    }

    /// `--cpus-per-task` / `--mem` from the recipe's `package.resources` (`cpu: 4`, `memory: 8Gi`).
    static func resourceArguments(recipePath: String) throws -> [String] {
        let r = try RecipeResources.load(recipePath: recipePath)
        return (r.cpu.map { ["--cpus-per-task=\($0)"] } ?? []) + (r.memory.map { ["--mem=\($0.amount)\($0.unit.prefix(1))"] } ?? [])
    }

    func appendLog(_ path: String, _ text: String) {
        if let h = FileHandle(forWritingAtPath: path) { h.seekToEndOfFile(); h.write(Data(text.utf8)); try? h.close() }
        else { _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) }
    }

    static func shellQuote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}
