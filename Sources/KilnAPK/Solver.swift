import Foundation
import KilnCore

/// Raised when the requested packages cannot be installed together; `chain` shows how the failing
/// requirement was reached (world → package → dependency).
public struct SolverError: KilnError {
    /// How the failing requirement was reached.
    public var chain: [String]
    /// Why it cannot be satisfied.
    public var reason: String
    public var description: String {
        "cannot resolve packages: " + chain.joined(separator: " → ") + ": " + reason
    }
}

/// apk-style dependency resolution over index records: names with version constraints
/// (`= >= <= > < ~`), `provides` (including `so:`/`cmd:` virtuals, versioned or not) with
/// `provider_priority`, conflicts (`!name`). Deterministic: the same inputs give the same answer.
public struct Solver: Sendable {
    /// The packages it chooses from.
    public let records: [APKRepositoryPackage]
    var byName: [String: [APKRepositoryPackage]] = [:]
    var providers: [String: [(record: APKRepositoryPackage, version: String?)]] = [:]

    /// A solver over `records` (indexes them by name and by what they provide).
    public init(records: [APKRepositoryPackage]) {
        self.records = records
        for r in records { byName[r.name, default: []].append(r) }
        for k in byName.keys {
            byName[k]!.sort { a, b in
                let c = APKVersion.compare(a.version, b.version)
                return c != 0 ? c > 0 : a.repositoryIndex < b.repositoryIndex
            }
        }
        for r in records {
            for p in r.provides {
                guard let d = APKDependency.parse(p) else { continue }
                providers[d.name, default: []].append((r, d.op == .eq ? d.version : nil))
            }
        }
    }

    /// The best package for `dep` on its own (no other requirements): the order the full solve tries
    /// first. Build roots install this one, so they pick the providers images pick.
    public func best(for dep: APKDependency) -> APKRepositoryPackage? {
        candidates(dep, learned: [:], preferFIPS: false).first
    }

    /// Whether some package is named exactly `name`.
    public func hasPackage(_ name: String) -> Bool { byName[name] != nil }

    /// Candidates for `dep`, best first: the package of that name (newest first), then providers by
    /// priority, version and name. With `preferFIPS`, `<name>-fips` builds go before the others.
    func candidates(_ dep: APKDependency, learned: [String: [APKDependency]], preferFIPS: Bool) -> [APKRepositoryPackage] {
        var out: [APKRepositoryPackage] = []
        func ok(_ v: String?, _ name: String) -> Bool {
            dep.accepts(version: v) && (learned[name] ?? []).allSatisfy { $0.accepts(version: v) }
        }
        if preferFIPS, !dep.name.hasSuffix("-fips"), let fips = byName[dep.name + "-fips"] {
            out += fips.filter { ok($0.version, $0.name) }
        }
        out += (byName[dep.name] ?? []).filter { ok($0.version, $0.name) }
        let provs = (providers[dep.name] ?? []).filter { ok($0.version, dep.name) && ok($0.record.version, $0.record.name) }
            .sorted { a, b in
                if preferFIPS, a.record.name.hasSuffix("-fips") != b.record.name.hasSuffix("-fips") {
                    return a.record.name.hasSuffix("-fips")
                }
                let pa = a.record.providerPriority ?? 0, pb = b.record.providerPriority ?? 0
                if pa != pb { return pa > pb }
                let c = APKVersion.compare(a.record.version, b.record.version)
                if c != 0 { return c > 0 }
                if a.record.name != b.record.name { return a.record.name < b.record.name }
                return a.record.repositoryIndex < b.record.repositoryIndex
            }
        for p in provs where !out.contains(p.record) { out.append(p.record) }
        return out
    }

    /// Resolves `world`; returns the packages in install order (dependencies before dependents).
    public func solve(_ world: [APKDependency], preferFIPS: Bool = false) throws -> [APKRepositoryPackage] {
        var learned: [String: [APKDependency]] = [:]
        for _ in 0..<64 {
            do {
                return try attempt(world, learned: learned, preferFIPS: preferFIPS)
            } catch let c as Restart {
                if learned[c.name, default: []].contains(c.dep) { throw c.error }
                learned[c.name, default: []].append(c.dep)
            }
        }
        throw SolverError(chain: ["world"], reason: "no solution found after repeated backtracking")
    }

    struct Restart: Error { var name: String; var dep: APKDependency; var error: SolverError }

    private func attempt(_ world: [APKDependency], learned: [String: [APKDependency]], preferFIPS: Bool) throws -> [APKRepositoryPackage] {
        var selected: [String: APKRepositoryPackage] = [:]
        var order: [APKRepositoryPackage] = []
        var visiting: Set<String> = []
        var conflicts: [(APKDependency, [String])] = []

        func satisfied(_ dep: APKDependency) -> Bool {
            if let s = selected[dep.name], dep.accepts(version: s.version) { return true }
            for r in selected.values {
                for p in r.provides {
                    if let d = APKDependency.parse(p), d.name == dep.name,
                       dep.accepts(version: d.op == .eq ? d.version : nil) { return true }
                }
            }
            return false
        }

        func resolve(_ dep: APKDependency, chain: [String]) throws {
            if dep.conflict { conflicts.append((dep, chain)); return }
            if satisfied(dep) { return }
            let cands = candidates(dep, learned: learned, preferFIPS: preferFIPS)
            guard !cands.isEmpty else {
                let avail = (byName[dep.name] ?? []).map(\.version)
                let reason: String
                if avail.isEmpty && providers[dep.name] == nil {
                    reason = "no package named or providing '\(dep.name)' in the repositories"
                } else if avail.isEmpty {
                    reason = "providers of '\(dep.name)' (\((providers[dep.name] ?? []).map { $0.record.nameVersion }.sorted().joined(separator: ", "))) do not match '\(dep)'"
                } else {
                    reason = "no version of '\(dep.name)' matches '\(dep)' (available: \(avail.joined(separator: ", ")))"
                }
                throw SolverError(chain: chain + [dep.description], reason: reason)
            }
            var clash: APKRepositoryPackage?
            for c in cands {
                if let s = selected[c.name] {
                    if s == c { return }
                    clash = clash ?? s
                    continue
                }
                selected[c.name] = c
                visiting.insert(c.name)
                for d in c.depends {
                    guard let dd = APKDependency.parse(d) else {
                        throw SolverError(chain: chain + [dep.description, c.nameVersion], reason: "malformed dependency '\(d)' in the index")
                    }
                    if visiting.contains(dd.name) && !dd.conflict { continue }
                    try resolve(dd, chain: chain + [c.nameVersion])
                }
                visiting.remove(c.name)
                order.append(c)
                return
            }
            let s = clash!
            let err = SolverError(chain: chain + [dep.description],
                                  reason: "conflicts with \(s.nameVersion), already chosen for another requirement")
            guard s.name == dep.name else { throw err }
            throw Restart(name: s.name, dep: APKDependency(name: s.name, op: dep.op, version: dep.version),
                          error: SolverError(chain: chain + [dep.description],
                                             reason: "conflicts with \(s.nameVersion), already chosen for another requirement"))
        }

        for d in world { try resolve(d, chain: ["world"]) }
        for (c, chain) in conflicts {
            if let s = selected[c.name], c.accepts(version: s.version) {
                throw SolverError(chain: chain + [c.description], reason: "\(s.nameVersion) is required by something else")
            }
        }
        return order
    }
}
