import Foundation

/// The package names and versions apk accepts. Recipes are checked with these at parse time, before
/// a name or version reaches any path (trees, logs, scratch directories), and APK packages with
/// them again when written. Versions: `digit{.digit}...{letter}{_suf{#}}...{~hash}{-r#}`
/// (apk-tools version.c).
public enum PackageSyntax {
    /// True when apk accepts `name`: ASCII letters, digits and `+ - . _`, starting with a letter or
    /// digit, at most 255 bytes — so never `/`, `..`, a space or an empty name.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.utf8.count <= 255 else { return false }
        guard CharacterSet.alphanumerics.contains(first), first.isASCII else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "+-._".unicodeScalars.contains($0)) }
    }

    /// What a valid name looks like, for error messages.
    public static let nameRule = "letters, digits and + - . _ only, starting with a letter or digit"
    /// What a valid version looks like, for error messages.
    public static let versionRule = "e.g. 1.2.3, 1.2.3a, 1.2.3_rc1, 1.2.3_p2; no `-`, `/` or spaces"

    static let suffixes = ["alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p"]

    /// True when apk would accept `v` (with or without the `-rN` release).
    public static func isValidVersion(_ v: String) -> Bool {
        let s = Array(v.utf8)
        var i = 0
        func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
        func isLower(_ c: UInt8) -> Bool { c >= 0x61 && c <= 0x7a }
        func digits() -> Bool {
            let start = i
            while i < s.count && isDigit(s[i]) { i += 1 }
            return i > start
        }
        guard digits() else { return false }
        while i < s.count && s[i] == 0x2e { i += 1; guard digits() else { return false } }   // .digits
        if i < s.count && isLower(s[i]) { i += 1 }                                              // one letter
        while i < s.count && s[i] == 0x5f {                                                    // _suffix[#]
            i += 1
            guard let suf = suffixes.first(where: { p in
                let u = Array(p.utf8); return i + u.count <= s.count && Array(s[i..<(i + u.count)]) == u
            }) else { return false }
            i += suf.utf8.count
            while i < s.count && isDigit(s[i]) { i += 1 }
        }
        if i < s.count && s[i] == 0x7e {                                                       // ~hash
            i += 1
            let start = i
            while i < s.count && (isDigit(s[i]) || (s[i] >= 0x61 && s[i] <= 0x66)) { i += 1 }
            guard i > start else { return false }
        }
        if i < s.count && s[i] == 0x2d {                                                       // -r#
            i += 1
            guard i < s.count, s[i] == 0x72 else { return false }
            i += 1
            guard digits() else { return false }
        }
        return i == s.count
    }
}
