import Foundation

/// apk's version ordering (`digit{.digit}...{letter}{_suffix{#}}...{-r#}`), following apk-tools
/// version.c: more numeric components sort higher (1.2.1 > 1.2), a letter sorts below a further
/// component (1.2a < 1.2.1), pre-release suffixes (`_alpha _beta _pre _rc`) sort below the bare
/// version and post-release ones (`_cvs _svn _git _hg _p`) above it, then `-r` revisions.
public enum APKVersion {
    enum Token: Equatable {
        case digit(String, initial: Bool)
        case letter(Character)
        case suffix(Int, Int)        // rank (negative = pre-release), number
        case revision(Int)
        case end

        var typeRank: Int {
            switch self {
            case .digit: return 1
            case .letter: return 2
            case .suffix: return 3
            case .revision: return 5
            case .end: return 6
            }
        }
    }

    static let suffixes: [(String, Int)] = [
        ("alpha", -4), ("beta", -3), ("pre", -2), ("rc", -1),
        ("cvs", 1), ("svn", 2), ("git", 3), ("hg", 4), ("p", 5),
    ]

    /// Whether `version` is a valid apk version string.
    public static func isValid(_ version: String) -> Bool { tokens(version) != nil }

    static func tokens(_ version: String) -> [Token]? {
        let s = Array(version.unicodeScalars)
        var i = 0
        var out: [Token] = []
        func isDigit(_ c: Unicode.Scalar) -> Bool { c.value >= 48 && c.value <= 57 }
        func isLower(_ c: Unicode.Scalar) -> Bool { c.value >= 97 && c.value <= 122 }
        func readNumber() -> String? {
            let start = i
            while i < s.count, isDigit(s[i]) { i += 1 }
            return i > start ? String(String.UnicodeScalarView(s[start..<i])) : nil
        }
        guard let first = readNumber() else { return nil }
        out.append(.digit(first, initial: true))
        while i < s.count, s[i] == ".", i + 1 < s.count, isDigit(s[i + 1]) {
            i += 1
            out.append(.digit(readNumber()!, initial: false))
        }
        if i < s.count, isLower(s[i]), !(i + 1 < s.count && isLower(s[i + 1])) {
            out.append(.letter(Character(s[i]))); i += 1
        }
        while i < s.count, s[i] == "_" {
            i += 1
            let start = i
            while i < s.count, isLower(s[i]) { i += 1 }
            let name = String(String.UnicodeScalarView(s[start..<i]))
            guard let rank = suffixes.first(where: { $0.0 == name })?.1 else { return nil }
            let num = readNumber().flatMap { Int($0.prefix(18)) } ?? 0
            out.append(.suffix(rank, num))
        }
        if i < s.count, s[i] == "~" {          // commit hash: ignored for ordering
            i += 1
            while i < s.count, s[i] != "-" { i += 1 }
        }
        if i < s.count, s[i] == "-" {
            guard i + 1 < s.count, s[i + 1] == "r" else { return nil }
            i += 2
            guard let r = readNumber(), let rv = Int(r.prefix(18)) else { return nil }
            out.append(.revision(rv))
        }
        guard i == s.count else { return nil }
        out.append(.end)
        return out
    }

    /// Compares two digit components; non-initial components with a leading zero compare as
    /// decimal fractions (string order), like apk.
    static func compareDigits(_ a: String, _ b: String, initial: Bool) -> Int {
        if !initial, a.hasPrefix("0") || b.hasPrefix("0") {
            return a == b ? 0 : (a < b ? -1 : 1)
        }
        let at = a.drop(while: { $0 == "0" }), bt = b.drop(while: { $0 == "0" })
        if at.count != bt.count { return at.count < bt.count ? -1 : 1 }
        return at == bt ? 0 : (at < bt ? -1 : 1)
    }

    static func compareValue(_ a: Token, _ b: Token) -> Int {
        switch (a, b) {
        case let (.digit(x, ia), .digit(y, _)): return compareDigits(x, y, initial: ia)
        case let (.letter(x), .letter(y)): return x == y ? 0 : (x < y ? -1 : 1)
        case let (.suffix(r1, n1), .suffix(r2, n2)):
            if r1 != r2 { return r1 < r2 ? -1 : 1 }
            return n1 == n2 ? 0 : (n1 < n2 ? -1 : 1)
        case let (.revision(x), .revision(y)): return x == y ? 0 : (x < y ? -1 : 1)
        default: return 0
        }
    }

    /// -1, 0, 1. Invalid versions compare by plain string order after all valid ones.
    public static func compare(_ a: String, _ b: String) -> Int {
        guard let ta = tokens(a), let tb = tokens(b) else {
            if tokens(a) != nil { return -1 }
            if tokens(b) != nil { return 1 }
            return a == b ? 0 : (a < b ? -1 : 1)
        }
        var i = 0
        while i < ta.count && i < tb.count {
            let x = ta[i], y = tb[i]
            if x.typeRank == y.typeRank {
                if case .end = x { return 0 }
                let c = compareValue(x, y)
                if c != 0 { return c }
                i += 1
                continue
            }
            // Different kinds of token: a pre-release suffix loses; otherwise the version with more
            // (lower-ranked) parts is greater.
            if case let .suffix(r, _) = x, r < 0 { return -1 }
            if case let .suffix(r, _) = y, r < 0 { return 1 }
            return x.typeRank > y.typeRank ? -1 : 1
        }
        return 0
    }

    /// apk's fuzzy match (`~`): `version` matches `pattern` when they agree on every part the
    /// pattern has (so `~1.2` matches 1.2, 1.2.9, 1.2-r3 but not 1.3 or 1.20).
    public static func fuzzyMatches(_ version: String, _ pattern: String) -> Bool {
        guard let tv = tokens(version), let tp = tokens(pattern) else { return version.hasPrefix(pattern) }
        for (i, p) in tp.enumerated() {
            if case .end = p { return true }
            guard i < tv.count else { return false }
            let v = tv[i]
            if v.typeRank != p.typeRank || compareValue(v, p) != 0 { return false }
        }
        return true
    }
}

/// A dependency atom as apk writes them: `name`, `name=1.2-r0`, `name>=1.2`, `name<2`, `name~1.2`,
/// `!name` (conflict), `so:libc.so.1`, `cmd:sh`.
public struct Dependency: Hashable, Sendable, CustomStringConvertible, Codable {
    public enum Op: String, Sendable, Codable { case any = "", eq = "=", ge = ">=", le = "<=", gt = ">", lt = "<", fuzzy = "~" }
    public var name: String
    public var op: Op
    public var version: String
    public var conflict: Bool

    public init(name: String, op: Op = .any, version: String = "", conflict: Bool = false) {
        self.name = name; self.op = op; self.version = version; self.conflict = conflict
    }

    /// Parses one atom; returns nil when it is malformed.
    public static func parse(_ text: String) -> Dependency? {
        var s = Substring(text.trimmingCharacters(in: .whitespaces))
        var conflict = false
        if s.hasPrefix("!") { conflict = true; s = s.dropFirst() }
        // apk also allows `name@tag`; kiln has one repository set, so the tag is dropped.
        guard let opIndex = s.firstIndex(where: { "<>=~".contains($0) }) else {
            let name = String(s.split(separator: "@", maxSplits: 1).first ?? "")
            return name.isEmpty ? nil : Dependency(name: name, conflict: conflict)
        }
        let name = String(s[..<opIndex].split(separator: "@", maxSplits: 1).first ?? "")
        var rest = s[opIndex...]
        var opText = ""
        while let c = rest.first, "<>=~".contains(c) { opText.append(c); rest = rest.dropFirst() }
        let op: Op
        switch opText {
        case "=", "==": op = .eq
        case ">=": op = .ge
        case "<=": op = .le
        case ">": op = .gt
        case "<": op = .lt
        case "~", "=~", "~=": op = .fuzzy
        default: return nil
        }
        let version = String(rest)
        guard !name.isEmpty, !version.isEmpty, APKVersion.isValid(version) else { return nil }
        return Dependency(name: name, op: op, version: version, conflict: conflict)
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

    public var description: String { (conflict ? "!" : "") + name + op.rawValue + version }
}
