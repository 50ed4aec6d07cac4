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

    /// The scheduler's priorities for a plan: `priorities` over `weights`, except that a node never
    /// built before with no known dependencies and no known dependents comes first of all. Such an
    /// isolated node is what a first build turns out to provide (glibc and libgcc: their `so:`
    /// names are learned from libcrypto3's scan): built first, it is in the repository before its
    /// users' build roots are made, so the learned edges do not rebuild them on the rerun
    /// ("dependency glibc added"). They are imports of a few seconds each.
    public static func schedulePriorities(_ plan: Plan) -> [String: Double] {
        var p = priorities(plan.graph, weights: weights(plan))
        for e in plan.entries where e.action == .build && e.previous == nil
            && (plan.graph.edges[e.id] ?? []).isEmpty && (plan.graph.dependents[e.id] ?? []).isEmpty {
            p[e.id] = .infinity
        }
        return p
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
