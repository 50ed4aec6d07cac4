import Foundation
import KilnCore

/// The resolved dependency graph of a catalog: each declared dependency name is resolved to the
/// node providing it (preferring the same variant, then the standard one); names no node provides
/// are external (the toolchain root or the base system provides them).
public struct CatalogGraph: Sendable {
    public struct Edge: Hashable, Sendable, Codable {
        public var to: String
        public var kind: NodeDependency.Kind
        /// The declared name that resolved to `to` (e.g. `so:libz.so.1`).
        public var via: String
    }

    public let nodes: [String: CatalogNode]
    /// Outgoing edges (node → its dependencies), sorted.
    public let edges: [String: [Edge]]
    /// Reverse edges (node → nodes that depend on it), sorted.
    public let dependents: [String: [String]]
    /// Declared names that no node provides, per node.
    public let external: [String: [String]]
    /// Dependencies before dependents; ties broken by id so the order is stable.
    public let order: [String]

    public init(_ list: [CatalogNode]) throws {
        var nodes: [String: CatalogNode] = [:]
        for n in list {
            if let old = nodes[n.id] { throw NightlyError.duplicateNode(id: n.id, files: [old.file, n.file].sorted()) }
            nodes[n.id] = n
        }
        // name -> provider ids (packages only)
        var providers: [String: [String]] = [:]
        for n in list where n.kind == .package {
            for p in Set(n.provides + [n.name]) { providers[p, default: []].append(n.id) }
        }
        var edges: [String: [Edge]] = [:], external: [String: [String]] = [:]
        for n in list {
            var out = Set<Edge>(), ext = Set<String>()
            for d in n.dependencies {
                guard let cands = providers[d.name], !cands.isEmpty else { ext.insert(d.name); continue }
                if cands.contains(n.id) { continue }          // provided by itself (e.g. a subpackage)
                let pick = CatalogGraph.pick(cands.map { nodes[$0]! }, variant: n.variant)
                out.insert(Edge(to: pick, kind: d.kind, via: d.name))
            }
            edges[n.id] = out.sorted { ($0.to, $0.kind, $0.via) < ($1.to, $1.kind, $1.via) }
            if !ext.isEmpty { external[n.id] = ext.sorted() }
        }
        var deps: [String: Set<String>] = [:]
        for (from, es) in edges { for e in es { deps[e.to, default: []].insert(from) } }
        self.nodes = nodes
        self.edges = edges
        self.external = external
        self.dependents = deps.mapValues { $0.sorted() }
        if let cycles = CatalogGraph.findCycles(nodes: nodes, edges: edges) {
            throw NightlyError.cycle(cycles)
        }
        self.order = CatalogGraph.topologicalOrder(nodes: nodes, edges: edges)
    }

    /// Same variant first, then the standard variant, then any; ties by id.
    static func pick(_ cands: [CatalogNode], variant: String?) -> String {
        func rank(_ c: CatalogNode) -> Int { c.variant == variant ? 0 : (c.variant == nil ? 1 : 2) }
        return cands.min { (rank($0), $0.id) < (rank($1), $1.id) }!.id
    }

    /// Unique dependency ids of a node (all edge kinds).
    public func dependencyIDs(_ id: String) -> [String] {
        Array(Set((edges[id] ?? []).map(\.to))).sorted()
    }

    /// Every node downstream of `id` (transitive dependents), sorted.
    public func transitiveDependents(_ id: String) -> [String] {
        var seen = Set<String>(), stack = [id]
        while let x = stack.popLast() {
            for d in dependents[x] ?? [] where !seen.contains(d) { seen.insert(d); stack.append(d) }
        }
        return seen.sorted()
    }

    /// `id` plus every node it depends on, transitively.
    public func closure(of ids: [String]) -> Set<String> {
        var seen = Set<String>(), stack = ids
        while let x = stack.popLast() {
            guard seen.insert(x).inserted else { continue }
            for e in edges[x] ?? [] { stack.append(e.to) }
        }
        return seen
    }

    /// The nodes whose input keys enter `id`'s key: every build/install dependency together with
    /// its runtime closure (that is what gets installed into the build root or the image).
    public func keyDependencies(_ id: String) -> [String] {
        var result = Set<String>(), stack: [String] = []
        for e in edges[id] ?? [] where e.kind != .runtime { stack.append(e.to) }
        while let x = stack.popLast() {
            guard x != id, result.insert(x).inserted else { continue }
            for e in edges[x] ?? [] where e.kind == .runtime { stack.append(e.to) }
        }
        return result.sorted()
    }

    // Tarjan's strongly connected components; every component with more than one node is a cycle.
    static func findCycles(nodes: [String: CatalogNode], edges: [String: [Edge]]) -> String? {
        var index = 0, indices: [String: Int] = [:], low: [String: Int] = [:]
        var stack: [String] = [], onStack = Set<String>(), sccs: [[String]] = []
        func strong(_ v: String) {
            // iterative to survive deep graphs
            var work: [(String, Int)] = [(v, 0)]
            indices[v] = index; low[v] = index; index += 1; stack.append(v); onStack.insert(v)
            while let (node, i) = work.popLast() {
                let es = edges[node] ?? []
                if i < es.count {
                    let w = es[i].to
                    work.append((node, i + 1))
                    if indices[w] == nil {
                        indices[w] = index; low[w] = index; index += 1; stack.append(w); onStack.insert(w)
                        work.append((w, 0))
                    } else if onStack.contains(w) {
                        low[node] = min(low[node]!, indices[w]!)
                    }
                    continue
                }
                if let parent = work.last?.0 { low[parent] = min(low[parent]!, low[node]!) }
                if low[node] == indices[node] {
                    var comp: [String] = []
                    while let w = stack.popLast() { onStack.remove(w); comp.append(w); if w == node { break } }
                    if comp.count > 1 { sccs.append(comp.sorted()) }
                }
            }
        }
        for v in nodes.keys.sorted() where indices[v] == nil { strong(v) }
        guard !sccs.isEmpty else { return nil }
        var lines: [String] = []
        for comp in sccs.sorted(by: { $0[0] < $1[0] }) {
            let members = Set(comp)
            // A concrete cycle through the component, from its smallest node.
            let start = comp[0]
            var path = [start], visited = Set([start])
            func dfs(_ v: String) -> Bool {
                for e in edges[v] ?? [] where members.contains(e.to) {
                    if e.to == start && path.count > 1 { path.append(start); return true }
                    if !visited.contains(e.to) {
                        visited.insert(e.to); path.append(e.to)
                        if dfs(e.to) { return true }
                        path.removeLast()
                    }
                }
                return false
            }
            _ = dfs(start)
            var line = "dependency cycle: " + path.joined(separator: " → ")
            if Set(path).count < comp.count {
                line += " (all nodes in the cycle: \(comp.joined(separator: ", ")))"
            }
            line += "\n  " + comp.map { "\($0) (\(nodes[$0]!.file))" }.joined(separator: "\n  ")
            lines.append(line)
        }
        return lines.joined(separator: "\n") + "\nbreak the cycle by removing one of these dependencies"
    }

    static func topologicalOrder(nodes: [String: CatalogNode], edges: [String: [Edge]]) -> [String] {
        var remaining: [String: Int] = [:], rev: [String: [String]] = [:]
        for id in nodes.keys {
            let ds = Set((edges[id] ?? []).map(\.to))
            remaining[id] = ds.count
            for d in ds { rev[d, default: []].append(id) }
        }
        // A sorted ready list; catalogs are small enough for insertion into a sorted array.
        var ready = remaining.filter { $0.value == 0 }.map(\.key).sorted(by: >)
        var order: [String] = []
        order.reserveCapacity(nodes.count)
        while let v = ready.popLast() {
            order.append(v)
            for d in rev[v] ?? [] {
                remaining[d]! -= 1
                if remaining[d] == 0 {
                    let i = ready.firstIndex(where: { $0 < d }) ?? ready.count
                    ready.insert(d, at: i)
                }
            }
        }
        return order
    }
}
