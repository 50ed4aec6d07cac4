import Foundation
import Yams

/// A YAML value kept verbatim (no positions) for keys kiln keeps but does not interpret
/// (`update`, `data`, unknown keys in lenient mode, ...). Scalars stay the strings written.
public indirect enum YAMLValue: Sendable, Equatable {
    case null
    case scalar(String)
    case sequence([YAMLValue])
    case mapping([KeyValue])

    /// One entry of a mapping, in the order written.
    public struct KeyValue: Sendable, Equatable {
        public var key: String
        public var value: YAMLValue
        /// `key: value`.
        public init(key: String, value: YAMLValue) { self.key = key; self.value = value }
    }

    /// The value of `node`, positions dropped.
    public init(_ node: Node) {
        switch node {
        case .scalar(let s):
            self = Self.isNull(node) ? .null : .scalar(s.string)
        case .sequence(let seq): self = .sequence(seq.map { YAMLValue($0) })
        case .mapping(let map):
            self = .mapping(map.map { KeyValue(key: $0.key.scalar?.string ?? "", value: YAMLValue($0.value)) })
        }
    }

    /// A plain (unquoted) empty, `~` or `null` scalar without an explicit non-null tag.
    public static func isNull(_ node: Node) -> Bool {
        guard case .scalar(let s) = node, s.style == .plain || s.style == .any else { return false }
        let tag = s.tag.description
        guard tag.isEmpty || tag == Tag.Name.null.rawValue || tag == "!" else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(s.string)
    }

    /// The value under `key` of a mapping.
    public subscript(key: String) -> YAMLValue? {
        if case .mapping(let kv) = self { return kv.first { $0.key == key }?.value }
        return nil
    }
    /// The scalar's text.
    public var string: String? { if case .scalar(let s) = self { return s }; return nil }
    /// The list's items.
    public var array: [YAMLValue]? { if case .sequence(let a) = self { return a }; return nil }
}
