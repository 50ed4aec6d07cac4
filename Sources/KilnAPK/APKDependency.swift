import Foundation
import KilnCore

/// A dependency atom as apk writes them: `name`, `name=1.2-r0`, `name>=1.2`, `name<2`, `name~1.2`,
/// `!name` (conflict), `so:libc.so.1`, `cmd:sh`. The text is split by KilnCore's `DependencyAtom`
/// (the one name parser); this adds the operator and version checks and constraint matching.
public struct APKDependency: Hashable, Sendable, CustomStringConvertible, Codable {
    /// A version constraint operator.
    public enum Op: String, Sendable, Codable { case any = "", eq = "=", ge = ">=", le = "<=", gt = ">", lt = "<", fuzzy = "~" }
    /// The package or virtual name.
    public var name: String
    /// The constraint operator.
    public var op: Op
    /// The constraint version (empty for `.any`).
    public var version: String
    /// True for `!name`.
    public var conflict: Bool

    /// A dependency with the given parts.
    public init(name: String, op: Op = .any, version: String = "", conflict: Bool = false) {
        self.name = name; self.op = op; self.version = version; self.conflict = conflict
    }

    /// Parses one atom; returns nil when it is malformed (no name, unknown operator, or a version
    /// that is not an apk version). A `@tag` is dropped: kiln has one repository set.
    public static func parse(_ text: String) -> APKDependency? {
        guard let a = DependencyAtom.parse(text) else { return nil }
        let op: Op
        switch a.op {
        case "": return a.version.isEmpty ? APKDependency(name: a.name, conflict: a.conflict) : nil
        case "=", "==": op = .eq
        case ">=": op = .ge
        case "<=": op = .le
        case ">": op = .gt
        case "<": op = .lt
        case "~", "=~", "~=": op = .fuzzy
        default: return nil
        }
        guard !a.version.isEmpty, APKVersion.isValid(a.version) else { return nil }
        return APKDependency(name: a.name, op: op, version: a.version, conflict: a.conflict)
    }

    /// Whether a package (or provided name) at `candidate` version satisfies this constraint.
    /// A provide without a version (`nil`) satisfies only an unversioned dependency.
    public func accepts(version candidate: String?) -> Bool {
        if op == .any { return true }
        guard let candidate else { return false }
        let c = APKVersion.compare(candidate, version)
        switch op {
        case .any: return true
        case .eq: return c == 0
        case .ge: return c >= 0
        case .le: return c <= 0
        case .gt: return c > 0
        case .lt: return c < 0
        case .fuzzy: return APKVersion.fuzzyMatches(candidate, version)
        }
    }

    /// The atom as apk writes it.
    public var description: String { (conflict ? "!" : "") + name + op.rawValue + version }
}
