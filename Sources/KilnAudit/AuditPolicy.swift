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
    /// or empty fields are errors naming `file:line`. Read like every YAML input (regular files only,
    /// within `YAMLLimits`).
    public static func load(path: String) throws -> AuditPolicy {
        guard let d = try YAMLLimits.readFile(path) else { throw KilnMessage("\(path): cannot read the audit policy") }
        return try parse(String(decoding: d, as: UTF8.self), file: path)
    }

    /// Parses policy text (see `load`); an empty document allows nothing.
    public static func parse(_ text: String, file: String) throws -> AuditPolicy {
        let r = YAMLReader(file: file, unknownKeys: .reject(hint: " — an audit policy has only `allow:`"))
        let root: Node
        do { root = try r.root(text, expected: "an audit policy") } catch let e as InputError where e.kind == .missingKey {
            return AuditPolicy()
        }
        guard root.mapping != nil else {
            throw InputError(.wrongType, r.location(root), "an audit policy is a mapping with `allow:`")
        }
        var out: [FIPSAllowance] = []
        try r.fields(root, "audit policy", known: ["allow"]) { _, v in
            // `file:line`, as the boundary attestation has always recorded a policy entry's place.
            out = try FIPSAllowance.parseList(v, what: "allow", reader: r, source: { "\($0.file):\($0.line)" })
        }
        return AuditPolicy(allow: out)
    }
}
