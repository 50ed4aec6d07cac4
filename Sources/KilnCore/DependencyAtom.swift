import Foundation

/// The lexical shape of one apk dependency/provides atom — `name`, `name@tag`, `name>=1.2`,
/// `name~1.2`, `!name` (a conflict), `so:libc.so.6=6`, `cmd:sh` — the one "strip the version from a
/// dependency" parser every module uses (recipes, build roots, the nightly graph, images, SBOMs).
///
/// It splits the text only; KilnAPK's `APKDependency` adds version validation and matching on top.
/// Lives in KilnCore because KilnRecipe and KilnBuild, which sit upstream of KilnAPK, need it too.
public struct DependencyAtom: Sendable, Equatable {
    /// The name without `!`, `@tag` or version constraint.
    public var name: String
    /// The repository tag after `@` (kiln has one repository set and ignores it), or nil.
    public var tag: String?
    /// The constraint operator as written (`=`, `>=`, `~`, `=~`, …), empty when unversioned.
    public var op: String
    /// The version after the operator, empty when unversioned.
    public var version: String
    /// True for `!name`: the package must *not* be installed.
    public var conflict: Bool

    /// The characters that start a version constraint.
    public static let operatorCharacters: Set<Character> = ["<", ">", "=", "~"]

    /// Splits `text` (surrounding whitespace ignored); `nil` when there is no name.
    public static func parse(_ text: String) -> DependencyAtom? {
        var s = Substring(text.trimmingCharacters(in: .whitespaces))
        var conflict = false
        if s.hasPrefix("!") { conflict = true; s = s.dropFirst() }
        let opStart = s.firstIndex { operatorCharacters.contains($0) } ?? s.endIndex
        var head = s[..<opStart]
        var tag: String?
        if let at = head.firstIndex(of: "@") { tag = String(head[head.index(after: at)...]); head = head[..<at] }
        guard !head.isEmpty else { return nil }
        let rest = s[opStart...]
        let op = rest.prefix { operatorCharacters.contains($0) }
        return DependencyAtom(name: String(head), tag: tag, op: String(op), version: String(rest.dropFirst(op.count)),
                              conflict: conflict)
    }

    /// The name a dependency needs: `foo>=1.2` → `foo`, `so:libz.so.1=1.2.13` → `so:libz.so.1`,
    /// `foo@edge` → `foo`; `nil` for a conflict (`!foo` is not a need) or an empty atom.
    public static func name(of text: String) -> String? {
        guard let a = parse(text), !a.conflict else { return nil }
        return a.name
    }
}
