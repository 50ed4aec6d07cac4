import ArgumentParser
import KilnNightly

/// `kiln nightly-node` (hidden): what one Slurm job of `kiln nightly --executor slurm` runs —
/// builds exactly one node of the run's worker plan and writes its result into the shared store.
struct NightlyNodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nightly-node",
        abstract: "Build one node of a distributed nightly's plan into the shared store (run by `kiln nightly --executor slurm`).",
        shouldDisplay: false)

    @Option(name: .long, help: "The run's worker plan (<store>/runs/<run-id>/plan.json, or its tag in a registry store).")
    var plan: String

    @Option(name: .long, help: "The node id to build.")
    var node: String

    @Option(name: .long, help: "The store: a shared directory or registry://HOST[:PORT]/REPO.")
    var store: String

    func run() throws {
        let opened = try NightlyStores.open(store.contains("://") ? store : absolutePath(store))
        let r = try NightlyNode.build(planLocation: opened is SharedDirectoryStore ? absolutePath(plan) : plan, nodeID: node, store: opened)
        print("nightly-node \(node): \(r.packages.count) package(s) on \(r.worker)")
    }
}
