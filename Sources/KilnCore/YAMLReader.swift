import Foundation
import Yams

/// Reads one YAML file through Yams' Node API so every value keeps its position: the one strict
/// reader behind recipes, pipeline files, image configs, the FIPS module registry and audit policies.
///
/// The rules, the same for every file (melange's and apko's yaml.v3 decoding):
/// - the text is checked against `YAMLLimits` (depth, alias expansion) before it is composed;
/// - an explicit null (`~`, `null`, nothing) is the zero value: an empty list, mapping or string;
/// - a single scalar where a list is expected is an error (`expected a list, found the scalar …`);
/// - a key written twice in one mapping is an error at the second one, naming the line of the first;
/// - unknown keys follow `unknownKeys`: errors (recipes, audit policies), warnings collected in
///   `warnings` (recipes with --lenient, image configs), or passed over (pipeline files).
public final class YAMLReader {
    /// What `fields` does with a key it was not told about.
    public enum UnknownKeys: Sendable {
        /// An error naming the key, its place and the known keys (with `hint` appended).
        case reject(hint: String)
        /// A warning in `warnings`; the key's value is returned to the caller.
        case warn
        /// Passed over silently (melange's decoding of pipeline files).
        case ignore
    }

    /// The file named in every location.
    public let file: String
    /// The unknown-key rule.
    public let unknownKeys: UnknownKeys
    /// Warnings so far, in document order.
    public private(set) var warnings: [InputWarning] = []

    /// A reader for `file` with the given unknown-key rule.
    public init(file: String, unknownKeys: UnknownKeys) {
        self.file = file; self.unknownKeys = unknownKeys
    }

    /// A recipe-style reader: unknown keys are errors (advising `--lenient`), warnings when `lenient`,
    /// passed over when `ignoresUnknownKeys`.
    public convenience init(file: String, lenient: Bool, ignoresUnknownKeys: Bool = false) {
        self.init(file: file, unknownKeys: ignoresUnknownKeys ? .ignore
                    : lenient ? .warn : .reject(hint: "; fix the key or pass --lenient to only warn"))
    }

    /// The place of `node` in the file (the file alone when unknown).
    public func location(_ node: Node?) -> SourceLocation {
        guard let m = node?.mark else { return SourceLocation(file: file) }
        return SourceLocation(file: file, line: m.line, column: m.column)
    }

    /// Records a warning at `node`.
    public func warn(_ node: Node?, _ message: String) {
        warnings.append(InputWarning(location(node), message))
    }

    /// Parses `text` into the root node after the `YAMLLimits` check; YAML syntax errors keep Yams'
    /// line:column. An empty document is an error saying it should be `expected`.
    public func root(_ text: String, expected: String = "a mapping with `package:` and `pipeline:`") throws -> Node {
        try YAMLLimits.standard.check(text, file: file)
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw InputError(.missingKey, SourceLocation(file: file, line: 1, column: 1), "empty document: expected \(expected)")
            }
            return node
        } catch let e as InputError {
            throw e
        } catch let e as YamlError {
            throw InputError(.syntax, YAMLDiagnostics.location(of: e, file: file), "invalid YAML: \(YAMLDiagnostics.problem(e))")
        } catch {
            throw InputError(.syntax, SourceLocation(file: file), "invalid YAML: \(error)")
        }
    }

    // MARK: typed accessors (each error names the key, its place and what was expected)

    /// The entries of a mapping in the order written (null: none). Keys must be scalars and
    /// distinct: a repeated key is an error at the repeat naming the line of the first.
    public func entries(_ node: Node, _ what: String) throws -> [(key: String, keyNode: Node, value: Node)] {
        var first: [String: Node] = [:]
        return try mapping(node, what).map { k, v in
            let key = try string(k, "\(what) key")
            if let prev = first[key] {
                throw InputError(.invalidValue, location(k),
                                 "\(what): duplicate key `\(key)` (first at line \(prev.mark?.line ?? 0)); write each key once")
            }
            first[key] = k
            return (key, k, v)
        }
    }

    /// A mapping node's pairs (null: an empty mapping). Use `entries` or `fields` to walk them: they
    /// check the keys.
    public func mapping(_ node: Node, _ what: String) throws -> Node.Mapping {
        if isNull(node) { return Node.Mapping([]) }
        guard case .mapping(let m) = node else {
            throw InputError(.wrongType, location(node), "\(what): expected a mapping (key: value), found \(kindName(node))")
        }
        return m
    }

    /// A list's items (null: none). A scalar is not a one-item list.
    public func sequence(_ node: Node, _ what: String) throws -> [Node] {
        if isNull(node) { return [] }
        guard case .sequence(let s) = node else {
            throw InputError(.wrongType, location(node), "\(what): expected a list, found \(kindName(node))")
        }
        return Array(s)
    }

    /// Whether `node` is an explicit null.
    public func isNull(_ node: Node) -> Bool { YAMLValue.isNull(node) }

    /// A scalar exactly as written (versions stay `1.10`, not 1.1); null is "".
    public func string(_ node: Node, _ what: String) throws -> String {
        guard case .scalar(let s) = node else {
            throw InputError(.wrongType, location(node), "\(what): expected a string, found \(kindName(node))")
        }
        if isNull(node) { return "" }
        return s.string
    }

    /// A decimal integer.
    public func int(_ node: Node, _ what: String) throws -> Int {
        let s = try string(node, what)
        guard let v = Int(s.trimmingCharacters(in: .whitespaces)) else {
            throw InputError(.wrongType, location(node), "\(what): expected an integer, found `\(s)`")
        }
        return v
    }

    /// yaml.v3's booleans (true/yes/on, false/no/off; null is false).
    public func bool(_ node: Node, _ what: String) throws -> Bool {
        let s = try string(node, what)
        switch s.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off", "": return false
        default: throw InputError(.wrongType, location(node), "\(what): expected true or false, found `\(s)`")
        }
    }

    /// A file mode: `0o755`, `0755` (octal) or a decimal number, at most 0o7777.
    public func octal(_ node: Node, _ what: String) throws -> UInt32 {
        let s = try string(node, what)
        let v: UInt32?
        if s.hasPrefix("0o") { v = UInt32(s.dropFirst(2), radix: 8) }
        else if s.hasPrefix("0") && s.count > 1 { v = UInt32(s.dropFirst(), radix: 8) }
        else { v = UInt32(s) }
        guard let v, v <= 0o7777 else {
            throw InputError(.wrongType, location(node), "\(what): expected an octal mode like 0o755, found `\(s)`")
        }
        return v
    }

    /// A list of strings.
    public func strings(_ node: Node, _ what: String) throws -> [String] {
        try stringNodes(node, what).map(\.value)
    }

    /// A list of strings, each with its node (for positions).
    public func stringNodes(_ node: Node, _ what: String) throws -> [(value: String, node: Node)] {
        try sequence(node, what).enumerated().map { (try string($0.element, "\(what)[\($0.offset)]"), $0.element) }
    }

    /// A map of string → string (`vars`, `environment`, `with`), order kept, value positions kept.
    public func stringMap(_ node: Node, _ what: String) throws -> [(key: String, value: String, location: SourceLocation)] {
        try entries(node, what).map { e in (e.key, try string(e.value, "\(what).\(e.key)"), location(e.value)) }
    }

    /// How `node` is described in an error.
    public func kindName(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let s): return isNull(node) ? "nothing (null)" : "the scalar `\(s.string)`"
        }
    }

    /// Walks a mapping's keys (see `entries`), dispatching known ones to `handle`; unknown ones follow
    /// `unknownKeys` and are returned (kept verbatim) unless rejected.
    @discardableResult
    public func fields(_ node: Node, _ what: String, known: Set<String>,
                       _ handle: (String, Node) throws -> Void) throws -> [YAMLValue.KeyValue] {
        var extra: [YAMLValue.KeyValue] = []
        for e in try entries(node, what) {
            if known.contains(e.key) {
                try handle(e.key, e.value)
            } else {
                try unknown(e.key, at: e.keyNode, in: what, known: known)
                extra.append(.init(key: e.key, value: YAMLValue(e.value)))
            }
        }
        return extra
    }

    /// Applies `unknownKeys` to the unknown `key` at `node` of `what`.
    public func unknown(_ key: String, at node: Node, in what: String, known: Set<String>) throws {
        let msg = "unknown key `\(key)` in \(what) (known: \(known.sorted().joined(separator: ", ")))"
        switch unknownKeys {
        case .ignore: return
        case .warn: warn(node, msg)
        case .reject(let hint): throw InputError(.unknownKey, location(node), msg + hint)
        }
    }

    /// The value of `key` in `m`, or an error at `node` saying it is missing.
    public func required(_ m: Node.Mapping, _ key: String, in what: String, at node: Node) throws -> Node {
        guard let v = m[key] else {
            throw InputError(.missingKey, location(node), "\(what): missing required key `\(key)`")
        }
        return v
    }
}
