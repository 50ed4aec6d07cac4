import Foundation
import KilnCore

/// `${{name}}` substitution. An unknown name is an error naming the file, line and the name.
public struct SubstitutionContext: Sendable {
    public var values: [String: String]
    public init(_ values: [String: String] = [:]) { self.values = values }

    public subscript(_ key: String) -> String? {
        get { values[key] }
        set { values[key] = newValue }
    }

    /// Replaces every `${{ name }}` in `text`. `location` is where `text` starts in its file; errors
    /// point at the line (and, on the first line, the column) of the offending reference.
    public func substitute(_ text: String, at location: SourceLocation) throws -> String {
        guard text.contains("${{") else { return text }
        var out = ""
        var rest = Substring(text)
        var consumed = Substring(text).startIndex
        let whole = text
        while let open = rest.range(of: "${{") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                throw RecipeError(.unknownSubstitution, position(of: open.lowerBound, in: whole, base: location),
                                  "unterminated substitution `\(rest[open.lowerBound...].prefix(40))`: expected `}}`")
            }
            let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            guard let value = values[name] else {
                throw RecipeError(.unknownSubstitution, position(of: open.lowerBound, in: whole, base: location),
                                  "unknown substitution `${{\(name)}}`" + hint(name))
            }
            out += value
            consumed = close.upperBound
            rest = rest[close.upperBound...]
        }
        _ = consumed
        out += rest
        return out
    }

    /// Replaces the `${{ name }}`s this context knows and leaves the others as written (melange's
    /// behaviour for descriptions and other metadata; `runs:` and inputs use `substitute`, which fails).
    public func substituteKnown(_ text: String) -> String {
        guard text.contains("${{") else { return text }
        var out = "", rest = Substring(text)
        while let open = rest.range(of: "${{") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else { break }
            let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            out += values[name] ?? String(rest[open.lowerBound..<close.upperBound])
            rest = rest[close.upperBound...]
        }
        return out + rest
    }

    private func hint(_ name: String) -> String {
        let prefix = name.split(separator: ".").first.map(String.init) ?? ""
        let known = values.keys.filter { $0.hasPrefix(prefix + ".") }.sorted()
        if known.isEmpty {
            return " (known: package.*, targets.*, context.name, host.triplet.*, cross.triplet.*, build.*, vars.*, options.*, "
                + "range.* in ranged subpackages, inputs.* inside pipelines)"
        }
        return " (known \(prefix).*: \(known.prefix(12).joined(separator: ", "))\(known.count > 12 ? ", ..." : ""))"
    }

    private func position(of index: String.Index, in text: String, base: SourceLocation) -> SourceLocation {
        let before = text[..<index]
        let newlines = before.filter { $0 == "\n" }.count
        var loc = base
        guard base.line > 0 else { return loc }
        loc.line = base.line + newlines
        if newlines == 0, base.column > 0 {
            loc.column = base.column + before.count
        } else {
            loc.column = 0
        }
        return loc
    }
}

/// Architecture names and triplets as melange spells them.
public enum Architecture {
    /// apko's `ToTriplet(libc)`: `x86_64-pc-linux-gnu`, `aarch64-unknown-linux-musl`, ...
    public static func gnuTriplet(_ arch: String, libc: String = "gnu") -> String {
        arch == "x86_64" ? "x86_64-pc-linux-\(libc)" : "\(arch)-unknown-linux-\(libc)"
    }
    /// apko's `ToRustTriplet(libc)`: `x86_64-unknown-linux-gnu`, ...
    public static func rustTriplet(_ arch: String, libc: String = "gnu") -> String { "\(arch)-unknown-linux-\(libc)" }
    public static func goarch(_ arch: String) -> String {
        switch arch { case "x86_64": return "amd64"; case "aarch64": return "arm64"; default: return arch }
    }
    /// The machine kiln runs on, in APK terms.
    public static var host: String {
        var u = utsname()
        uname(&u)
        let m = withUnsafeBytes(of: &u.machine) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return m.isEmpty ? "x86_64" : m
    }
}

/// Paths inside the sandbox (melange's layout).
public enum SandboxPaths {
    public static let workspace = "/home/build"
    public static let outdir = "/home/build/melange-out"
    public static func destdir(_ package: String) -> String { "\(outdir)/\(package)" }
}

extension Recipe {
    /// The substitutions available everywhere in this recipe (vars and var-transforms applied).
    /// Subpackage pipelines add `targets.subpkgdir` and their own `targets.contextdir`.
    public func substitutionContext(arch: String) throws -> SubstitutionContext {
        var c = SubstitutionContext([
            "package.name": package.name,
            "package.version": package.version,
            "package.epoch": String(package.epoch),
            "package.full-version": package.fullVersion,
            "package.description": package.description,
            "package.srcdir": SandboxPaths.workspace,
            "targets.outdir": SandboxPaths.outdir,
            "targets.destdir": SandboxPaths.destdir(package.name),
            "targets.contextdir": SandboxPaths.destdir(package.name),
            "host.triplet.gnu": Architecture.gnuTriplet(arch),
            "host.triplet.rust": Architecture.rustTriplet(arch),
            "cross.triplet.gnu.glibc": Architecture.gnuTriplet(arch, libc: "gnu"),
            "cross.triplet.gnu.musl": Architecture.gnuTriplet(arch, libc: "musl"),
            "cross.triplet.rust.glibc": Architecture.rustTriplet(arch, libc: "gnu"),
            "cross.triplet.rust.musl": Architecture.rustTriplet(arch, libc: "musl"),
            "context.name": package.name,
            "build.arch": arch,
            "build.goarch": Architecture.goarch(arch),
            "build.variant": variant,
        ])
        // vars may use package.* and earlier vars.
        for v in vars {
            c["vars.\(v.name)"] = try c.substitute(v.value, at: v.location)
        }
        for t in varTransforms {
            let from = try c.substitute(t.from, at: t.location)
            c["vars.\(t.to)"] = try VarTransformEngine.apply(t, to: from)
        }
        // melange: `options.NAME.enabled` is "true" for the build options switched on, else "false".
        for o in options { c["options.\(o.name).enabled"] = appliedOptions.contains(o.name) ? "true" : "false" }
        // melange: `targets.package.NAME` is the install root of the package or subpackage NAME.
        for name in [package.name] + expandedSubpackageNames(c) { c["targets.package.\(name)"] = SandboxPaths.destdir(name) }
        return c
    }

    /// Subpackage names with ranges expanded (unresolvable names left out; planning reports them).
    func expandedSubpackageNames(_ c: SubstitutionContext) -> [String] {
        var out: [String] = []
        for sp in subpackages {
            guard let range = sp.range, !range.isEmpty else {
                let n = c.substituteKnown(sp.name)
                if !n.contains("${{") { out.append(n) }
                continue
            }
            guard case .mapping(let kvs)? = data?.array?.first(where: { $0["name"]?.string == range })?["items"] else { continue }
            for kv in kvs {
                var rc = c
                rc["range.key"] = kv.key; rc["range.value"] = kv.value.string ?? ""
                let n = rc.substituteKnown(sp.name)
                if !n.contains("${{") { out.append(n) }
            }
        }
        return out
    }

    /// The context for a subpackage's pipeline.
    public func substitutionContext(arch: String, subpackage: String) throws -> SubstitutionContext {
        var c = try substitutionContext(arch: arch)
        c["targets.contextdir"] = SandboxPaths.destdir(subpackage)
        c["targets.subpkgdir"] = SandboxPaths.destdir(subpackage)
        c["subpkg.name"] = subpackage
        c["context.name"] = subpackage
        return c
    }
}

/// Applies a var-transform: regular expression `match` replaced by `replace` (`$1`, `${1}` groups).
public enum VarTransformEngine {
    public static func apply(_ t: VarTransform, to input: String) throws -> String {
        let re: NSRegularExpression
        do { re = try NSRegularExpression(pattern: t.match) } catch {
            throw RecipeError(.invalidValue, t.location, "var-transforms: `\(t.match)` is not a valid regular expression")
        }
        // Go's `${1}` → NSRegularExpression's `$1`; a literal `\` must be escaped for the template.
        var template = t.replace.replacingOccurrences(of: "\\", with: "\\\\")
        if let braces = try? NSRegularExpression(pattern: "\\$\\{([0-9]+)\\}") {
            template = braces.stringByReplacingMatches(in: template, range: NSRange(template.startIndex..., in: template),
                                                       withTemplate: "\\$$1")
        }
        return re.stringByReplacingMatches(in: input, range: NSRange(input.startIndex..., in: input), withTemplate: template)
    }
}

/// melange's `if:` conditions: `==`, `!=`, `&&`, `||`, `!`, parentheses, quoted or bare words.
public enum Condition {
    public static func evaluate(_ text: String, at location: SourceLocation) throws -> Bool {
        var p = Parser(tokens: try tokenize(text, location), location: location, text: text)
        let v = try p.or()
        guard p.pos == p.tokens.count else { throw p.error("unexpected `\(p.tokens[p.pos].text)`") }
        return v
    }

    struct Token { var text: String; var quoted: Bool }

    static func tokenize(_ s: String, _ loc: SourceLocation) throws -> [Token] {
        var tokens: [Token] = []
        var i = s.startIndex
        while i < s.endIndex {
            let c = s[i]
            if c.isWhitespace { i = s.index(after: i); continue }
            let two = s[i...].prefix(2)
            if ["==", "!=", "&&", "||"].contains(String(two)) {
                tokens.append(Token(text: String(two), quoted: false)); i = s.index(i, offsetBy: 2); continue
            }
            if c == "(" || c == ")" || c == "!" { tokens.append(Token(text: String(c), quoted: false)); i = s.index(after: i); continue }
            if c == "'" || c == "\"" {
                guard let end = s[s.index(after: i)...].firstIndex(of: c) else {
                    throw RecipeError(.invalidValue, loc, "if: unterminated quote in `\(s)`")
                }
                tokens.append(Token(text: String(s[s.index(after: i)..<end]), quoted: true)); i = s.index(after: end); continue
            }
            var j = i
            while j < s.endIndex, !s[j].isWhitespace, !"()'\"".contains(s[j]),
                  !["==", "!=", "&&", "||"].contains(String(s[j...].prefix(2))) { j = s.index(after: j) }
            if j == i { j = s.index(after: i) }
            tokens.append(Token(text: String(s[i..<j]), quoted: false)); i = j
        }
        return tokens
    }

    struct Parser {
        var tokens: [Token]; var pos = 0; var location: SourceLocation; var text: String
        init(tokens: [Token], location: SourceLocation, text: String) { self.tokens = tokens; self.location = location; self.text = text }
        func error(_ m: String) -> RecipeError { RecipeError(.invalidValue, location, "if: \(m) in `\(text)`") }
        func peek(_ t: String) -> Bool { pos < tokens.count && !tokens[pos].quoted && tokens[pos].text == t }
        mutating func or() throws -> Bool {
            var v = try and()
            while peek("||") { pos += 1; let r = try and(); v = v || r }
            return v
        }
        mutating func and() throws -> Bool {
            var v = try unary()
            while peek("&&") { pos += 1; let r = try unary(); v = v && r }
            return v
        }
        mutating func unary() throws -> Bool {
            if peek("!") { pos += 1; return !(try unary()) }
            if peek("(") {
                pos += 1; let v = try or()
                guard peek(")") else { throw error("missing `)`") }
                pos += 1; return v
            }
            let a = try value()
            if peek("==") { pos += 1; return a == (try value()) }
            if peek("!=") { pos += 1; return a != (try value()) }
            switch a { case "true": return true; case "false", "": return false
            default: throw error("expected a comparison (`a == b`), found `\(a)`") }
        }
        mutating func value() throws -> String {
            guard pos < tokens.count else { throw error("expected a value") }
            let t = tokens[pos]
            if !t.quoted && ["==", "!=", "&&", "||", "(", ")", "!"].contains(t.text) { throw error("expected a value, found `\(t.text)`") }
            pos += 1; return t.text
        }
    }
}
