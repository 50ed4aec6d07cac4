import ArgumentParser
import Foundation
import KilnNightly

/// `kiln nightly`'s options for running package nodes elsewhere: `--executor slurm` with its store,
/// and `--emit argo DIR` (the plan as an Argo Workflows DAG).
struct DistributedOptions: ParsableArguments {
    @Option(name: .long, help: "Where package nodes build: `local` (this process) or `slurm` (one sbatch job each; needs a store every Slurm node sees).")
    var executor: String = "local"

    @Option(name: .long, help: "The store for --executor slurm and --emit argo (results, packages by digest, logs): a shared directory (default <out>/nightly/store) or registry://HOST[:PORT]/REPO (registry+http:// for plain HTTP on loopback).")
    var store: String?

    @Option(name: .customLong("sbatch-arg"), parsing: .unconditionalSingleValue, help: "An extra sbatch argument for every job (repeat it; e.g. --sbatch-arg --partition=build).")
    var sbatchArguments: [String] = []

    @Option(name: .long, help: "Cancel and fail a node whose Slurm job is still PENDING after this many seconds (default: wait).")
    var slurmPendingTimeout: Double?

    @Option(name: .long, parsing: .upToNextOption, help: "`--emit argo DIR`: write the plan as an Argo Workflows DAG (DIR/workflow.json; the worker plan goes into --store) and exit.")
    var emit: [String] = []

    @Option(name: .long, help: "The worker container image for --emit argo (default kiln-worker:latest).")
    var argoImage: String?

    /// `--store` resolved (a directory made absolute; a registry URL as given), or `<out>/nightly/store`.
    func storeSpec(outputRoot: String) -> String {
        store.map { $0.contains("://") ? $0 : absolutePath($0) } ?? outputRoot + "/nightly/store"
    }

    /// The `--emit argo` directory, or nil when nothing is to be emitted.
    func argoDirectory() throws -> String? {
        guard !emit.isEmpty else { return nil }
        guard emit.count == 2, emit[0] == "argo" else { throw ValidationError("--emit takes `argo DIR`") }
        return absolutePath(emit[1])
    }

    /// Puts `--executor slurm` and its settings into `request` (kiln's own path is the worker command).
    func apply(to request: inout NightlyRequest, outputRoot: String) throws {
        guard ["local", "slurm"].contains(executor) else { throw ValidationError("--executor takes local or slurm") }
        guard executor == "slurm" else { return }
        let me = CommandLine.arguments[0].contains("/") ? CommandLine.arguments[0] : Bundle.main.executablePath ?? "kiln"
        var s = SlurmSettings(store: storeSpec(outputRoot: outputRoot), workerCommand: absolutePath(me))
        s.sbatchArguments = sbatchArguments
        s.pendingTimeout = slurmPendingTimeout
        request.slurm = s
    }
}
