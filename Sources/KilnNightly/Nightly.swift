import Foundation
import KilnCore

public struct NightlyOptions: Sendable {
    /// Everything goes under here: `nightly/state/`, `reports/<run-id>/`.
    public var outputRoot: String
    public var jobs: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)
    public var keepGoing = false
    public var only: [String] = []
    /// Percentage of the packages built in this run to rebuild and compare (at least one), or nil.
    public var reproSamplePercent: Double?
    /// What `--update` picked up before this run (the report's "updates" section); nil when not asked.
    public var updates: [RunReport.Update]?
    public init(outputRoot: String) { self.outputRoot = outputRoot }
}

/// Rebuilds one built package and compares it with what the run produced (`kiln repro`).
public typealias ReproVerifier = @Sendable (_ node: CatalogNode, _ stored: StoredResult, _ logPath: String) throws -> RunReport.ReproResult

/// `kiln nightly`: load the catalog, plan by input keys, run the scheduler, write the report.
public final class NightlyRunner: @unchecked Sendable {
    public let options: NightlyOptions
    let loader: CatalogLoader
    let executor: NodeExecutor
    let reproVerifier: ReproVerifier?
    let progress: KilnCore.Progress?
    private let lock = NSLock()
    private var scheduler: Scheduler?
    private var cancelRequested = false

    public init(loader: CatalogLoader, executor: NodeExecutor, options: NightlyOptions,
                progress: KilnCore.Progress? = nil, reproVerifier: ReproVerifier? = nil) {
        self.loader = loader; self.executor = executor; self.options = options
        self.progress = progress; self.reproVerifier = reproVerifier
    }

    public lazy var store = ResultStore(outputRoot: options.outputRoot)
    public var reportsRoot: String { options.outputRoot + "/reports" }

    public func plan() throws -> Plan {
        let store = self.store
        var nodes = try loader.load()
        // What earlier builds found out (ELF-scanned so:/cmd: provides and dependencies) joins what
        // the recipes declare, so `so:libz.so.1` resolves to the recipe that provides it.
        for i in nodes.indices {
            guard let s = store.load(nodes[i].id) else { continue }
            if let p = s.provides { nodes[i].provides = Array(Set(nodes[i].provides + p.map(NightlyRunner.stripVersion))).sorted() }
            if let d = s.runtimeDependencies {
                let have = Set(nodes[i].dependencies)
                for name in d.map(NightlyRunner.stripVersion) where !name.isEmpty {
                    let dep = NodeDependency(name, .runtime)
                    if !have.contains(dep) { nodes[i].dependencies.append(dep) }
                }
            }
        }
        let graph = try CatalogGraph(nodes)
        return try Planner.plan(graph: graph, store: store, only: options.only)
    }

    /// A first build teaches the graph edges no plan could know (ELF-scanned `so:`/`cmd:` provides
    /// and depends), so the next plan would key some nodes differently although nothing changed.
    /// After a run each node built in it is re-keyed with the graph as now known — only when its
    /// inputs are the same and every dependency difference is one the build already had: a
    /// dependency that was unchanged in this run or finished before the node started (its packages
    /// were in the repository the build root was resolved from), or one re-keyed here. Anything
    /// else keeps the old key, so the next run rebuilds it. Returns the re-keyed node ids.
    func settleKeys(runs: [NodeRun]) throws -> [String] {
        let fresh = try plan()
        let runOf = Dictionary(uniqueKeysWithValues: runs.map { ($0.id, $0) })
        var settled: [String] = []
        for e in fresh.entries {        // dependency order
            guard let r = runOf[e.id], r.status == .built, let start = r.start, var stored = store.load(e.id),
                  stored.input.key != e.key.key, stored.input.components == e.key.components else { continue }
            let was = stored.input.dependencies, now = e.key.dependencies
            let alreadyHad = Set(was.keys).union(now.keys).allSatisfy { d in
                switch (was[d], now[d]) {
                case let (a?, b?): return a == b || settled.contains(d)
                case (nil, _?):
                    if settled.contains(d) { return (runOf[d]?.end ?? .infinity) <= start }
                    switch runOf[d]?.status {
                    case .unchanged?: return true
                    case .built?: return (runOf[d]?.end ?? .infinity) <= start
                    default: return false
                    }
                default: return false
                }
            }
            guard alreadyHad else { continue }
            stored.input = e.key
            try store.save(stored)
            settled.append(e.id)
        }
        return settled
    }

    static func stripVersion(_ s: String) -> String { DependencyAtom.name(of: s) ?? "" }

    /// Stop starting new nodes; finished results stay stored and the report says interrupted.
    public func cancel() {
        lock.lock(); cancelRequested = true; let s = scheduler; lock.unlock()
        s?.cancel()
    }

    /// Runs the plan and writes the report; returns it with the path of its directory.
    public func run() throws -> (report: RunReport, directory: String) {
        let startDate = Date()
        let t0 = DispatchTime.now().uptimeNanoseconds
        let plan = try self.plan()
        let (runID, dir) = try ReportWriter.makeRunDirectory(reportsRoot: reportsRoot, date: startDate)
        let store = self.store
        let progress = self.progress
        let sched = Scheduler(plan: plan, executor: executor, store: store, jobs: options.jobs,
                              keepGoing: options.keepGoing, runID: runID, logDirectory: dir + "/logs",
                              observer: { run, done, total in
            let what = run.status == .blocked ? "blocked by \(run.blockedBy.joined(separator: ", "))" : run.status.rawValue
            let time = run.duration.map { " in \(KilnCore.Progress.format($0))" } ?? ""
            progress?.log("[\(done)/\(total)] \(run.id): \(what)\(time)")
        })
        lock.lock(); scheduler = sched; let early = cancelRequested; lock.unlock()
        if early { sched.cancel() }
        if plan.toBuild > 0 { try executor.prepare(plan: plan, runID: runID) }
        if plan.toBuild > 0 { progress?.log("nightly: \(plan.toBuild) of \(plan.entries.count) nodes to build with \(options.jobs) jobs") }
        var runs = sched.run()
        if let settled = try? settleKeys(runs: runs), !settled.isEmpty {
            progress?.log("nightly: keys of \(settled.joined(separator: ", ")) now include what the builds found (so:/cmd: edges); a rerun rebuilds nothing")
        }

        var repro: [RunReport.ReproResult] = []
        if let p = options.reproSamplePercent, let verify = reproVerifier, !sched.wasCancelled {
            let built = runs.filter { $0.status == .built && plan.graph.nodes[$0.id]!.kind == .package }
            if !built.isEmpty {
                let count = min(built.count, max(1, Int((Double(built.count) * p / 100).rounded(.up))))
                let keyOf = Dictionary(uniqueKeysWithValues: plan.entries.map { ($0.id, $0.key.key) })
                // A sample that is stable for given inputs: order by input key.
                let sample = built.sorted { keyOf[$0.id]! < keyOf[$1.id]! }.prefix(count)
                for r in sample {
                    guard let stored = store.load(r.id) else { continue }
                    let log = dir + "/logs/" + ResultStore.fileName(r.id).replacingOccurrences(of: ".json", with: ".repro.log")
                    progress?.log("nightly: repro check \(r.id)")
                    do { repro.append(try verify(plan.graph.nodes[r.id]!, stored, log)) }
                    catch { repro.append(.init(node: r.id, reproducible: nil, verdict: "could not check: \(error)", differingEntries: 0)) }
                }
            }
        }

        // What changed since each node's previous successful build.
        var changes: [RunReport.Change] = []
        let prevOf = Dictionary(uniqueKeysWithValues: plan.entries.map { ($0.id, $0.previous) })
        for i in runs.indices where runs[i].status == .built {
            changes += NightlyRunner.changes(node: runs[i].id, before: prevOf[runs[i].id] ?? nil, now: runs[i])
        }
        runs.sort { a, b in a.id < b.id }

        var sm = RunReport.Summary()
        sm.total = runs.count
        for r in runs {
            switch r.status {
            case .built: sm.built += 1
            case .unchanged: sm.unchanged += 1
            case .failed: sm.failed += 1
            case .blocked: sm.blocked += 1
            case .notRun: sm.notRun += 1
            }
        }
        sm.reproChecked = repro.count
        sm.reproFailed = repro.filter { $0.reproducible != true }.count
        let ok = sm.failed == 0 && sm.blocked == 0 && sm.notRun == 0 && sm.reproFailed == 0
        let entries: [RunReport.NodeEntry] = runs.map { r in
            let n = plan.graph.nodes[r.id]!
            return .init(id: r.id, kind: n.kind, name: n.name, variant: n.variant, file: n.file,
                         version: r.version ?? n.version, status: r.status, reasons: r.reasons, blockedBy: r.blockedBy,
                         start: r.start, end: r.end, duration: r.duration, log: r.log,
                         key: plan.entries.first { $0.id == r.id }!.key.key, outputs: r.outputs, error: r.error,
                         boundary: RunReport.NodeEntry.boundaryVerdict(kind: n.kind, outputs: r.outputs), placement: r.placement)
        }
        let report = RunReport(runID: runID, startedAt: NightlyRunner.rfc3339(startDate),
                               durationSeconds: Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9,
                               kilnVersion: KilnVersion.current, jobs: options.jobs, keepGoing: options.keepGoing,
                               interrupted: sched.wasCancelled, summary: sm, exitStatus: ok ? 0 : 1,
                               nodes: entries, changes: changes, repro: repro, updates: options.updates)
        try ReportWriter.write(report, runDirectory: dir, reportsRoot: reportsRoot)
        return (report, dir)
    }

    static func changes(node: String, before: StoredResult?, now: NodeRun) -> [RunReport.Change] {
        guard let before else { return [.init(node: node, what: "new-node", output: nil, from: nil, to: now.version)] }
        var out: [RunReport.Change] = []
        if before.version != now.version {
            out.append(.init(node: node, what: "version", output: nil, from: before.version, to: now.version))
        }
        // Outputs are matched by kind and position among that kind (paths change with versions).
        let kinds = Set(before.outputs.map(\.kind)).union(now.outputs.map(\.kind)).sorted()
        for k in kinds {
            let a = before.outputs.filter { $0.kind == k }, b = now.outputs.filter { $0.kind == k }
            for i in 0..<max(a.count, b.count) {
                switch (i < a.count ? a[i] : nil, i < b.count ? b[i] : nil) {
                case let (x?, y?):
                    if x.digest != y.digest { out.append(.init(node: node, what: "digest", output: y.path, from: x.digest, to: y.digest)) }
                    if x.size != y.size { out.append(.init(node: node, what: "size", output: y.path, from: "\(x.size)", to: "\(y.size)")) }
                case let (nil, y?): out.append(.init(node: node, what: "new-output", output: y.path, from: nil, to: y.digest))
                case let (x?, nil): out.append(.init(node: node, what: "removed-output", output: x.path, from: x.digest, to: nil))
                default: break
                }
            }
        }
        return out
    }

    static func rfc3339(_ d: Date) -> String { SourceDateEpoch.rfc3339(Int64(d.timeIntervalSince1970)) }
}
