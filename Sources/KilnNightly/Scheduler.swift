import Foundation
import KilnCore

/// What an executor is given to build one node.
public struct NodeContext: Sendable {
    public let node: CatalogNode
    public let key: InputKey
    /// Absolute path of this node's log file (the executor appends to it).
    public let logPath: String
    public let outputRoot: String
    public let runID: String
    /// Stored results of the node's dependencies (their outputs), by id.
    public let dependencies: [String: StoredResult]
    public let isCancelled: @Sendable () -> Bool
}

/// What a successful build produced.
public struct NodeOutcome: Sendable {
    public var outputs: [OutputRecord]
    public var version: String?
    /// Names the built packages turned out to provide (e.g. `so:` and `cmd:` found by the ELF scan);
    /// stored, and used to resolve other nodes' dependencies on the next run.
    public var provides: [String]
    /// Runtime dependencies found while packaging (e.g. `so:libz.so.1`), likewise.
    public var runtimeDependencies: [String]
    /// Where it ran, when not in this process (`slurm job 12 on n2`).
    public var placement: String?
    public init(outputs: [OutputRecord], version: String? = nil, provides: [String] = [], runtimeDependencies: [String] = [],
                placement: String? = nil) {
        self.outputs = outputs; self.version = version; self.provides = provides; self.runtimeDependencies = runtimeDependencies
        self.placement = placement
    }
}

/// Builds one node (a package recipe variant, or an image: assemble, sign, verify). Throws on failure.
public protocol NodeExecutor: Sendable {
    func execute(_ context: NodeContext) throws -> NodeOutcome
    /// Called once before the run's first node, with the plan and run id (a distributed executor
    /// writes its worker plan here); the default does nothing.
    func prepare(plan: Plan, runID: String) throws
}

extension NodeExecutor {
    /// Nothing to prepare.
    public func prepare(plan: Plan, runID: String) throws {}
}

public struct ClosureExecutor: NodeExecutor {
    let body: @Sendable (NodeContext) throws -> NodeOutcome
    public init(_ body: @escaping @Sendable (NodeContext) throws -> NodeOutcome) { self.body = body }
    public func execute(_ context: NodeContext) throws -> NodeOutcome { try body(context) }
}

public enum NodeStatus: String, Codable, Sendable, CaseIterable {
    case built, unchanged, failed, blocked
    case notRun = "not-run"
}

/// What happened to one node in a run.
public struct NodeRun: Codable, Sendable {
    public var id: String
    public var status: NodeStatus
    public var reasons: [String]
    /// For blocked nodes: the failed node(s) that blocked it.
    public var blockedBy: [String] = []
    /// Seconds since the run started.
    public var start: Double?
    public var end: Double?
    public var error: String?
    public var outputs: [OutputRecord] = []
    public var version: String?
    /// Relative to the report directory.
    public var log: String?
    /// Where it ran, when not in the coordinator (`slurm job 12 on n2`).
    public var placement: String?
    public var duration: Double? { if let start, let end { return end - start } else { return nil } }
}

/// Runs a plan: up to `jobs` builds at once, each node as soon as its dependencies are done; among
/// ready nodes the one on the longest remaining chain of work first (`CriticalPath`). A failure
/// blocks its dependents; with `keepGoing` independent nodes continue, without it no new node
/// starts. Each success is stored at once, so a killed run resumes where it stopped.
public final class Scheduler: @unchecked Sendable {
    public typealias Observer = @Sendable (_ run: NodeRun, _ finished: Int, _ total: Int) -> Void

    let plan: Plan
    let executor: NodeExecutor
    let store: ResultStore
    let jobs: Int
    let keepGoing: Bool
    let runID: String
    let logDirectory: String      // absolute; logs are <logDirectory>/<node>.log
    let logLinkPrefix: String     // how the report links logs
    let observer: Observer?

    private let cond = NSCondition()
    private var runs: [String: NodeRun] = [:]
    private var waitingOn: [String: Set<String>] = [:]
    private var ready: [String] = []        // worst first; popLast takes the next to start
    private var priority: [String: Double] = [:]
    private var pending = 0
    private var finished = 0
    private var stopping = false
    private var cancelled = false
    private let t0 = DispatchTime.now().uptimeNanoseconds

    public init(plan: Plan, executor: NodeExecutor, store: ResultStore, jobs: Int, keepGoing: Bool,
                runID: String, logDirectory: String, logLinkPrefix: String = "logs/", observer: Observer? = nil) {
        self.plan = plan; self.executor = executor; self.store = store; self.jobs = max(1, jobs)
        self.keepGoing = keepGoing; self.runID = runID; self.logDirectory = logDirectory
        self.logLinkPrefix = logLinkPrefix; self.observer = observer
    }

    var now: Double { Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 }

    /// Stops starting new nodes (Ctrl-C); running ones finish, the rest are reported not-run.
    public func cancel() {
        cond.lock(); cancelled = true; stopping = true; cond.broadcast(); cond.unlock()
    }

    public var wasCancelled: Bool { cond.lock(); defer { cond.unlock() }; return cancelled }

    public func run() -> [NodeRun] {
        let building = Set(plan.entries.filter { $0.action == .build }.map(\.id))
        for e in plan.entries {
            if e.action == .skip {
                var r = NodeRun(id: e.id, status: .unchanged, reasons: e.reasons)
                r.outputs = e.previous?.outputs ?? []; r.version = e.previous?.version
                runs[e.id] = r
                finished += 1
            } else {
                runs[e.id] = NodeRun(id: e.id, status: .notRun, reasons: e.reasons)
                waitingOn[e.id] = Set(plan.graph.dependencyIDs(e.id).filter { building.contains($0) })
                pending += 1
            }
        }
        let total = plan.entries.count
        priority = CriticalPath.schedulePriorities(plan)
        ready = CriticalPath.order(waitingOn.filter { $0.value.isEmpty }.map(\.key), priorities: priority).reversed()
        if pending > 0 {
            try? FileManager.default.createDirectory(atPath: logDirectory, withIntermediateDirectories: true)
            let group = DispatchGroup()
            for _ in 0..<min(jobs, pending) {
                group.enter()
                let t = Thread { [self] in worker(total: total); group.leave() }
                t.stackSize = 4 << 20
                t.start()
            }
            group.wait()
        }
        return plan.entries.map { runs[$0.id]! }
    }

    private func worker(total: Int) {
        while true {
            cond.lock()
            while ready.isEmpty && pending > 0 && !stopping { cond.wait() }
            if stopping || ready.isEmpty { cond.unlock(); return }
            let id = ready.removeLast()
            runs[id]!.start = now
            cond.unlock()

            let entry = plan.entries.first { $0.id == id }!
            let logName = ResultStore.fileName(id).replacingOccurrences(of: ".json", with: ".log")
            let logPath = logDirectory + "/" + logName
            var deps: [String: StoredResult] = [:]
            for d in plan.graph.dependencyIDs(id) { if let r = store.load(d) { deps[d] = r } }
            let ctx = NodeContext(node: plan.graph.nodes[id]!, key: entry.key, logPath: logPath,
                                  outputRoot: store.outputRoot, runID: runID, dependencies: deps,
                                  isCancelled: { [weak self] in self?.wasCancelled ?? true })
            let t1 = now
            var result: Result<NodeOutcome, Error>
            do { result = .success(try executor.execute(ctx)) } catch { result = .failure(error) }
            let t2 = now
            if case .success(let o) = result {
                let stored = StoredResult(id: id, input: entry.key, outputs: o.outputs,
                                          version: o.version ?? plan.graph.nodes[id]!.version,
                                          runID: runID, durationSeconds: t2 - t1,
                                          provides: o.provides.isEmpty ? nil : o.provides.sorted(),
                                          runtimeDependencies: o.runtimeDependencies.isEmpty ? nil : o.runtimeDependencies.sorted())
                do { try store.save(stored) } catch { result = .failure(error) }
            }
            if case .failure(let err) = result { appendLog(logPath, "kiln: error: \(err)\n") }

            cond.lock()
            var r = runs[id]!
            r.end = t2
            r.log = FileManager.default.fileExists(atPath: logPath) ? logLinkPrefix + logName : nil
            pending -= 1; finished += 1
            var newlyBlocked: [NodeRun] = []
            switch result {
            case .success(let o):
                r.status = .built; r.outputs = o.outputs; r.placement = o.placement; r.version = o.version ?? plan.graph.nodes[id]!.version
                for d in plan.graph.dependents[id] ?? [] where waitingOn[d] != nil {
                    waitingOn[d]!.remove(id)
                    if waitingOn[d]!.isEmpty && runs[d]!.status == .notRun && runs[d]!.start == nil
                        && !blockedIDs.contains(d) {
                        let i = ready.firstIndex(where: { CriticalPath.precedes($0, d, priorities: priority) }) ?? ready.count
                        ready.insert(d, at: i)
                    }
                }
            case .failure(let err):
                r.status = .failed; r.error = "\(err)"
                for d in plan.graph.transitiveDependents(id) where waitingOn[d] != nil {
                    guard runs[d]!.start == nil, runs[d]!.status == .notRun else { continue }
                    if blockedIDs.insert(d).inserted { pending -= 1; finished += 1 }
                    runs[d]!.status = .blocked
                    runs[d]!.blockedBy.append(id)
                    ready.removeAll { $0 == d }
                    newlyBlocked.append(runs[d]!)
                }
                if !keepGoing { stopping = true }
            }
            runs[id] = r
            let done = finished
            cond.broadcast()
            cond.unlock()
            observer?(r, done, total)
            for b in newlyBlocked { observer?(b, done, total) }
        }
    }
    private var blockedIDs = Set<String>()

    private func appendLog(_ path: String, _ text: String) {
        if let h = FileHandle(forWritingAtPath: path) {
            h.seekToEndOfFile(); h.write(Data(text.utf8)); try? h.close()
        } else {
            _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        }
    }
}
