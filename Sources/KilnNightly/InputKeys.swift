import Foundation
import KilnCrypto
import KilnCore

/// A node's input key: SHA-256 over its input components (plus `variant` and `kiln-version`) and
/// the keys of the nodes installed into its build root or image. Keys depend on inputs only, never
/// on outputs, so the whole plan is known before anything runs.
public struct InputKey: Sendable, Codable, Equatable {
    public var key: String
    /// Component name → digest (what went in; used to say which input changed).
    public var components: [String: String]
    /// Key dependency id → its key.
    public var dependencies: [String: String]
}

public enum InputKeys {
    public static let scheme = "kiln-nightly-input-key-v1"

    /// Computes every node's key, dependencies first (uses `graph.order`).
    public static func compute(_ graph: CatalogGraph) throws -> [String: InputKey] {
        var keys: [String: InputKey] = [:]
        for id in graph.order {
            let node = graph.nodes[id]!
            var comps: [String: String] = [:]
            for c in node.inputs { comps[c.name] = c.digest }
            comps["variant"] = node.variant ?? "standard"
            comps["kiln-version"] = KilnVersion.current
            var deps: [String: String] = [:]
            for d in graph.keyDependencies(id) { deps[d] = keys[d]!.key }
            keys[id] = InputKey(key: try digest(id: id, kind: node.kind, components: comps, dependencies: deps),
                                components: comps, dependencies: deps)
        }
        return keys
    }

    static func digest(id: String, kind: NodeKind, components: [String: String], dependencies: [String: String]) throws -> String {
        var text = scheme + "\nnode \(id.count):\(id)\nkind \(kind.rawValue)\n"
        for (k, v) in components.sorted(by: { $0.key < $1.key }) { text += "input \(k.count):\(k) \(v.count):\(v)\n" }
        for (k, v) in dependencies.sorted(by: { $0.key < $1.key }) { text += "dep \(k.count):\(k) \(v)\n" }
        return try Digest.sha256Hex(Data(text.utf8))
    }

    /// Human-readable reasons why `now` differs from `before` ("recipe changed", "pipeline:x changed",
    /// "dependency zlib changed", ...), sorted.
    public static func changes(from before: InputKey, to now: InputKey) -> [String] {
        var out: [String] = []
        for name in Set(before.components.keys).union(now.components.keys).sorted() {
            switch (before.components[name], now.components[name]) {
            case (nil, _?): out.append("\(name) added")
            case (_?, nil): out.append("\(name) removed")
            case let (a?, b?) where a != b: out.append("\(name) changed")
            default: break
            }
        }
        for id in Set(before.dependencies.keys).union(now.dependencies.keys).sorted() {
            switch (before.dependencies[id], now.dependencies[id]) {
            case (nil, _?): out.append("dependency \(id) added")
            case (_?, nil): out.append("dependency \(id) removed")
            case let (a?, b?) where a != b: out.append("dependency \(id) changed")
            default: break
            }
        }
        // `expanded` (the recipe after substitution and expansion) follows from the others; name it
        // only when nothing else explains the change.
        if out.count > 1 { out.removeAll { $0 == "expanded changed" } }
        if out.isEmpty && before.key != now.key { out.append("input key scheme changed") }
        return out
    }
}
