import Foundation
import KilnCore

/// What a run will do with each selected node, and why.
public struct PlanEntry: Sendable {
    public enum Action: String, Codable, Sendable { case build, skip }
    public var id: String
    public var action: Action
    /// Why it builds ("never built", "recipe changed", "dependency zlib changed", "output missing: ...")
    /// or `unchanged`.
    public var reasons: [String]
    public var key: InputKey
    /// The last successful stored result, if any.
    public var previous: StoredResult?
}

public struct Plan: Sendable {
    public var graph: CatalogGraph
    /// Selected nodes in dependency order.
    public var entries: [PlanEntry]
    public var toBuild: Int { entries.filter { $0.action == .build }.count }

    /// `kiln nightly --dry-run` output: one line per node in build order.
    public func render() -> String {
        var lines: [String] = []
        for e in entries {
            let n = graph.nodes[e.id]!
            let verb = e.action == .build ? "build" : "skip "
            lines.append("\(verb) \(e.id)\(n.version.map { " \($0)" } ?? "")  (\(e.reasons.joined(separator: "; ")))")
        }
        let skip = entries.count - toBuild
        lines.append("plan: \(toBuild) to build, \(skip) unchanged, \(entries.count) nodes")
        return lines.joined(separator: "\n") + "\n"
    }
}

public enum Planner {
    /// Selects nodes (`only` names or ids plus everything they depend on; all when empty), computes
    /// keys and compares them with the stored results.
    public static func plan(graph: CatalogGraph, store: ResultStore, only: [String] = []) throws -> Plan {
        var selected: Set<String>
        if only.isEmpty {
            selected = Set(graph.order)
        } else {
            var roots: [String] = [], unknown: [String] = []
            for name in only {
                let hits = graph.nodes.values.filter { $0.id == name || $0.name == name }.map(\.id)
                if hits.isEmpty { unknown.append(name) } else { roots += hits }
            }
            if !unknown.isEmpty { throw NightlyError.unknownOnly(unknown) }
            selected = graph.closure(of: roots)
        }
        let keys = try InputKeys.compute(graph)
        var entries: [PlanEntry] = []
        for id in graph.order where selected.contains(id) {
            let key = keys[id]!
            let prev = store.load(id)
            var action = PlanEntry.Action.build
            var reasons: [String]
            if let prev {
                if prev.input.key != key.key {
                    reasons = InputKeys.changes(from: prev.input, to: key)
                } else {
                    let missing = store.missingOutputs(prev)
                    if missing.isEmpty { action = .skip; reasons = ["unchanged"] }
                    else { reasons = missing.map { "output missing: \($0)" } }
                }
            } else {
                reasons = ["never built"]
            }
            entries.append(PlanEntry(id: id, action: action, reasons: reasons, key: key, previous: prev))
        }
        return Plan(graph: graph, entries: entries)
    }
}
