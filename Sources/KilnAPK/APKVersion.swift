import Foundation
import KilnRecipe

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

    /// Whether `version` is a valid apk version string (with or without the `-rN` release): the one
    /// validity check kiln uses for recipes, `.PKGINFO`, APKINDEX `V:` and dependency constraints.
    /// The rule lives in KilnRecipe (`PackageSyntax.isValidVersion`), which checks recipes with it
    /// before any path is made; the ordering below parses the same grammar.
    public static func isValid(_ version: String) -> Bool { PackageSyntax.isValidVersion(version) }

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
        if i < s.count, s[i] == "~" {          // commit hash (lower-case hex): ignored for ordering
            i += 1
            let start = i
            while i < s.count, isDigit(s[i]) || (s[i].value >= 97 && s[i].value <= 102) { i += 1 }
            guard i > start else { return nil }
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
