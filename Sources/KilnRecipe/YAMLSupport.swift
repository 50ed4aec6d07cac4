import Foundation
import KilnCore
import Yams

/// An error in a recipe or pipeline file: always names file:line:column and what was expected.
public struct RecipeError: KilnError, Equatable {
    public enum Kind: String, Sendable, Equatable {
        case syntax             // not YAML
        case missingKey         // a required key is absent
        case wrongType          // a value of the wrong kind (mapping/sequence/scalar/int/bool)
        case unknownKey         // a key melange does not know (strict mode)
        case unknownPipeline    // `uses:` names no pipeline
        case missingInput       // a required pipeline input is not given
        case unknownInput       // `with:` names an input the pipeline does not declare
        case unknownSubstitution // `${{...}}` names nothing known
        case invalidValue       // a value of the right type but not allowed (bad regex, empty name, ...)
        case io                 // cannot read the file
        case limit              // the document is too deep or expands to too many nodes (YAMLLimits)
    }
    public var kind: Kind
    public var location: SourceLocation
    public var message: String

    public init(_ kind: Kind, _ location: SourceLocation, _ message: String) {
        self.kind = kind; self.location = location; self.message = message
    }
    public var description: String { "\(location): \(message)" }
}

/// A warning tied to a place in a recipe (unknown keys in lenient mode, missing expected-commit...).
public struct RecipeWarning: Sendable, Equatable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String
    public init(_ location: SourceLocation, _ message: String) { self.location = location; self.message = message }
    public var description: String { "\(location): warning: \(message)" }
}

/// A YAML value kept verbatim (no positions) for keys kiln keeps but does not interpret
/// (`update`, `data`, unknown keys in lenient mode, ...). Scalars stay the strings written.
public indirect enum YAMLValue: Sendable, Equatable {
    case null
    case scalar(String)
    case sequence([YAMLValue])
    case mapping([KeyValue])

    public struct KeyValue: Sendable, Equatable {
        public var key: String
        public var value: YAMLValue
    }

    init(_ node: Node) {
        switch node {
        case .scalar(let s):
            self = Self.isNull(node) ? .null : .scalar(s.string)
        case .sequence(let seq): self = .sequence(seq.map { YAMLValue($0) })
        case .mapping(let map):
            self = .mapping(map.map { KeyValue(key: $0.key.scalar?.string ?? "", value: YAMLValue($0.value)) })
        }
    }

    /// A plain (unquoted) empty, `~` or `null` scalar without an explicit non-null tag.
    static func isNull(_ node: Node) -> Bool {
        guard case .scalar(let s) = node, s.style == .plain || s.style == .any else { return false }
        let tag = s.tag.description
        guard tag.isEmpty || tag == Tag.Name.null.rawValue || tag == "!" else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(s.string)
    }

    public subscript(key: String) -> YAMLValue? {
        if case .mapping(let kv) = self { return kv.first { $0.key == key }?.value }
        return nil
    }
    public var string: String? { if case .scalar(let s) = self { return s }; return nil }
    public var array: [YAMLValue]? { if case .sequence(let a) = self { return a }; return nil }
}

/// Reads one YAML file through Yams' Node API so every value keeps its position.
/// Strict mode (melange's behaviour for recipes) makes unknown keys errors; lenient mode makes them
/// warnings; `ignoresUnknownKeys` (melange's behaviour for pipeline definitions, which it decodes
/// without known-field checks) passes them over silently. Types are checked in every mode.
public final class YAMLReader {
    let file: String
    let lenient: Bool
    let ignoresUnknownKeys: Bool
    var warnings: [RecipeWarning] = []

    init(file: String, lenient: Bool, ignoresUnknownKeys: Bool = false) {
        self.file = file; self.lenient = lenient; self.ignoresUnknownKeys = ignoresUnknownKeys
    }

    func location(_ node: Node?) -> SourceLocation {
        guard let m = node?.mark else { return SourceLocation(file: file) }
        return SourceLocation(file: file, line: m.line, column: m.column)
    }

    /// Parses `text` into the root node; YAML syntax errors keep Yams' line:column.
    func root(_ text: String) throws -> Node {
        try YAMLLimits.standard.check(text, file: file)
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw RecipeError(.missingKey, SourceLocation(file: file, line: 1, column: 1),
                                  "empty document: expected a mapping with `package:` and `pipeline:`")
            }
            return node
        } catch let e as RecipeError {
            throw e
        } catch let e as YamlError {
            throw RecipeError(.syntax, yamlErrorLocation(e), "invalid YAML: \(yamlProblem(e))")
        } catch {
            throw RecipeError(.syntax, SourceLocation(file: file), "invalid YAML: \(error)")
        }
    }

    private func yamlErrorLocation(_ e: YamlError) -> SourceLocation { YAMLDiagnostics.location(of: e, file: file) }

    private func yamlProblem(_ e: YamlError) -> String { YAMLDiagnostics.problem(e) }

    // MARK: typed accessors (each error names the key, its place and what was expected)

    func mapping(_ node: Node, _ what: String) throws -> Node.Mapping {
        guard case .mapping(let m) = node else {
            throw RecipeError(.wrongType, location(node), "\(what): expected a mapping (key: value), found \(kindName(node))")
        }
        return m
    }

    func sequence(_ node: Node, _ what: String) throws -> [Node] {
        if isNull(node) { return [] }
        guard case .sequence(let s) = node else {
            throw RecipeError(.wrongType, location(node), "\(what): expected a list, found \(kindName(node))")
        }
        return Array(s)
    }

    func isNull(_ node: Node) -> Bool { YAMLValue.isNull(node) }

    /// A scalar exactly as written (versions stay `1.10`, not 1.1).
    func string(_ node: Node, _ what: String) throws -> String {
        guard case .scalar(let s) = node else {
            throw RecipeError(.wrongType, location(node), "\(what): expected a string, found \(kindName(node))")
        }
        if isNull(node) { return "" }
        return s.string
    }

    func int(_ node: Node, _ what: String) throws -> Int {
        let s = try string(node, what)
        guard let v = Int(s.trimmingCharacters(in: .whitespaces)) else {
            throw RecipeError(.wrongType, location(node), "\(what): expected an integer, found `\(s)`")
        }
        return v
    }

    func bool(_ node: Node, _ what: String) throws -> Bool {
        let s = try string(node, what)
        switch s.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off", "": return false
        default: throw RecipeError(.wrongType, location(node), "\(what): expected true or false, found `\(s)`")
        }
    }

    func strings(_ node: Node, _ what: String) throws -> [String] {
        try sequence(node, what).enumerated().map { try string($0.element, "\(what)[\($0.offset)]") }
    }

    /// A map of string → string (`vars`, `environment`, `with`), order kept, value positions kept.
    func stringMap(_ node: Node, _ what: String) throws -> [(key: String, value: String, location: SourceLocation)] {
        if isNull(node) { return [] }
        return try mapping(node, what).map { kv in
            let k = try string(kv.key, "\(what) key")
            return (k, try string(kv.value, "\(what).\(k)"), location(kv.value))
        }
    }

    func kindName(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let s): return isNull(node) ? "nothing (null)" : "the scalar `\(s.string)`"
        }
    }

    /// Walks a mapping's keys, dispatching known ones; unknown keys are errors (strict) or warnings.
    func fields(_ node: Node, _ what: String, known: Set<String>,
                _ handle: (String, Node) throws -> Void) throws -> [YAMLValue.KeyValue] {
        if isNull(node) { return [] }
        var extra: [YAMLValue.KeyValue] = []
        var seen = Set<String>()
        for (k, v) in try mapping(node, what) {
            let key = try string(k, "\(what) key")
            guard seen.insert(key).inserted else {
                throw RecipeError(.invalidValue, location(k), "\(what): duplicate key `\(key)`")
            }
            if known.contains(key) {
                try handle(key, v)
            } else {
                try unknown(key, at: k, in: what, known: known)
                extra.append(.init(key: key, value: YAMLValue(v)))
            }
        }
        return extra
    }

    func unknown(_ key: String, at node: Node, in what: String, known: Set<String>) throws {
        if ignoresUnknownKeys { return }
        let msg = "unknown key `\(key)` in \(what) (known: \(known.sorted().joined(separator: ", ")))"
        if lenient {
            warnings.append(RecipeWarning(location(node), msg))
        } else {
            throw RecipeError(.unknownKey, location(node), msg + "; fix the key or pass --lenient to only warn")
        }
    }

    func required(_ m: Node.Mapping, _ key: String, in what: String, at node: Node) throws -> Node {
        guard let v = m[key] else {
            throw RecipeError(.missingKey, location(node), "\(what): missing required key `\(key)`")
        }
        return v
    }
}
