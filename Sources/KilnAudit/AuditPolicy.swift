import Foundation
import KilnCore
import KilnFIPS
import Yams

/// What an audit accepts beyond the FIPS module itself: allow-list entries from the image config
/// (manifest annotation) and from `--policy FILE`. The default policy allows nothing.
public struct AuditPolicy: Sendable, Equatable {
    /// The entries, in the order given.
    public var allow: [FIPSAllowance]

    /// A policy of `allow` entries.
    public init(allow: [FIPSAllowance] = []) { self.allow = allow }

    /// The first entry accepting finding `f`.
    func allowance(for f: AuditFinding) -> FIPSAllowance? {
        allow.first { a in
            (a.finding == "*" || a.finding == f.id) && AuditPolicy.matches(a.path, f.path)
        }
    }

    static func matches(_ pattern: String, _ path: String) -> Bool {
        let p = pattern.hasPrefix("/") ? String(pattern.dropFirst()) : pattern
        return p == path || p == "*" || fnmatch(p, path, 0) == 0
    }

    /// Reads a policy file: YAML `allow: [{path, finding, reason}]`. Strict: unknown keys, missing
    /// or empty fields are errors naming `file:line`.
    public static func load(path: String) throws -> AuditPolicy {
        guard let d = FileManager.default.contents(atPath: path) else { throw KilnMessage("\(path): cannot read the audit policy") }
        return try parse(String(decoding: d, as: UTF8.self), file: path)
    }

    /// Parses policy text (see `load`).
    public static func parse(_ text: String, file: String) throws -> AuditPolicy {
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch { throw KilnMessage("\(file): invalid YAML: \(error)") }
        guard let root = node else { return AuditPolicy() }
        func at(_ n: Node) -> String { "\(file):\(n.mark.map { "\($0.line)" } ?? "?")" }
        guard let map = root.mapping else { throw KilnMessage("\(at(root)): an audit policy is a mapping with `allow:`") }
        var out: [FIPSAllowance] = []
        for (k, v) in map {
            guard k.string == "allow" else { throw KilnMessage("\(at(k)): unknown key `\(k.string ?? "?")` (an audit policy has only `allow:`)") }
            out = try FIPSAllowance.parseList(v, what: "allow", at: at, fail: { n, m in KilnMessage("\(at(n)): \(m)") })
        }
        return AuditPolicy(allow: out)
    }
}
