import Foundation

/// Critical-path-first scheduling: among the nodes whose dependencies are done, the scheduler
/// starts the one with the longest chain of work still waiting on it, so a long chain (openssl →
/// python-3.11 → python-3.11@fips) is not started after short independent nodes that could have
/// filled the other job slots meanwhile. Ties go to the smallest id, so the order is deterministic.
public enum CriticalPath {
    /// Each node's priority: its own weight plus the largest priority among the nodes that depend
    /// on it (edges of every kind), i.e. the heaviest chain of work from it to the end of the
    /// graph. A node missing from `weights` weighs 0.
    public static func priorities(_ graph: CatalogGraph, weights: [String: Double]) -> [String: Double] {
        var priority: [String: Double] = [:]
        // graph.order lists dependencies before dependents, so walking it backwards sees every
        // dependent of a node before the node itself.
        for id in graph.order.reversed() {
            let below = (graph.dependents[id] ?? []).map { priority[$0] ?? 0 }.max() ?? 0
            priority[id] = max(0, weights[id] ?? 0) + below
        }
        return priority
    }

    /// A plan's weights: 0 for a node the run skips; for a node it builds, the duration of its last
    /// recorded build, else the mean recorded duration of the plan's nodes (1 when none has one, so
    /// a first run prefers the node with the most nodes chained below it).
    public static func weights(_ plan: Plan) -> [String: Double] {
        let recorded = plan.entries.compactMap { e in e.previous.map(\.durationSeconds) }.filter { $0.isFinite && $0 >= 0 }
        let fallback = recorded.isEmpty ? 1 : recorded.reduce(0, +) / Double(recorded.count)
        var w: [String: Double] = [:]
        for e in plan.entries {
            guard e.action == .build else { w[e.id] = 0; continue }
            if let d = e.previous?.durationSeconds, d.isFinite, d >= 0 { w[e.id] = d } else { w[e.id] = fallback }
        }
        return w
    }

    /// The scheduler's priorities for a plan: `priorities` over `weights`, except that the nodes of
    /// a separate group of never-built nodes joined only by runtime edges (or by none) come first of
    /// all. Such a group is what a first build turns out to provide: imports like glibc + libgcc
    /// (glibc needs libgcc at run time) or ca-certificates, whose `so:` names are learned only from
    /// their users' scans. Built first, they are in the repository before their users' build roots
    /// are made, so the learned edges do not rebuild those users on the rerun ("dependency glibc
    /// added"). They are imports of a few seconds each; a group with a build edge is compiled
    /// against the catalog and keeps its critical-path priority.
    public static func schedulePriorities(_ plan: Plan) -> [String: Double] {
        var p = priorities(plan.graph, weights: weights(plan))
        let fresh = Set(plan.entries.filter { $0.action == .build && $0.previous == nil }.map(\.id))
        for group in components(plan.graph) where group.allSatisfy(fresh.contains)
            && group.allSatisfy({ (plan.graph.edges[$0] ?? []).allSatisfy { $0.kind == .runtime } }) {
            for id in group { p[id] = .infinity }
        }
        return p
    }

    /// The graph's connected groups (edges taken in both directions, an image's install edges
    /// left out), each sorted, in id order.
    static func components(_ graph: CatalogGraph) -> [[String]] {
        var seen: Set<String> = []
        var out: [[String]] = []
        for start in graph.nodes.keys.sorted() where !seen.contains(start) {
            var group: [String] = []
            var stack = [start]
            seen.insert(start)
            while let id = stack.popLast() {
                group.append(id)
                // An image's install edges do not join: images come after every package anyway.
                let down = (graph.edges[id] ?? []).filter { $0.kind != .install }.map(\.to)
                let up = (graph.dependents[id] ?? []).filter { d in
                    (graph.edges[d] ?? []).contains { $0.to == id && $0.kind != .install }
                }
                for n in down + up where !seen.contains(n) {
                    seen.insert(n); stack.append(n)
                }
            }
            out.append(group.sorted())
        }
        return out
    }

    /// Whether `a` should start before `b`: the higher priority first, then the smaller id.
    public static func precedes(_ a: String, _ b: String, priorities: [String: Double]) -> Bool {
        let pa = priorities[a] ?? 0, pb = priorities[b] ?? 0
        return pa != pb ? pa > pb : a < b
    }

    /// `ids` in start order (see `precedes`).
    public static func order(_ ids: [String], priorities: [String: Double]) -> [String] {
        ids.sorted { precedes($0, $1, priorities: priorities) }
    }
}
