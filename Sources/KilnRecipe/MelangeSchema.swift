import Foundation
import KilnCore
import Yams

/// The shape of recipe sections kiln keeps without interpreting (`update`, `data`, `capabilities`,
/// `package.cpe`, `resources`, `checks`, `setcap`, apko's `runtime_keyring`), written from melange's
/// config structs so kiln is exactly as strict as melange's known-fields decoding: an unknown key is
/// an error at its line (a warning with --lenient), a value of the wrong type always an error.
indirect enum Shape: Sendable {
    case string
    /// yaml.v3 decodes true/false (and yes/no/on/off) into a Go bool.
    case bool
    /// A Go int: a plain integer scalar (a quoted `"1"` is a string, which melange rejects).
    case int
    case list(Shape)
    /// map[string]string.
    case stringMap
    /// A struct: its known keys.
    case fields([String: Shape])

    static let stringList: Shape = .list(.string)

    static let update: Shape = .fields([
        "enabled": .bool, "manual": .bool, "require-sequential": .bool, "shared": .bool,
        "version-separator": .string, "ignore-regex-patterns": stringList,
        "release-monitor": .fields(["identifier": .int, "strip-prefix": .string, "strip-suffix": .string,
                                    "version-filter-contains": .string, "version-filter-prefix": .string]),
        "github": .fields(["identifier": .string, "strip-prefix": .string, "strip-suffix": .string, "tag-filter": .string,
                           "tag-filter-prefix": .string, "tag-filter-contains": .string, "use-tag": .bool]),
        "git": .fields(["strip-prefix": .string, "strip-suffix": .string, "tag-filter-prefix": .string,
                        "tag-filter-contains": .string]),
        "oci": .fields(["identifier": .string, "strip-prefix": .string, "strip-suffix": .string,
                        "tag-filter-prefix": .string, "tag-filter-contains": .string]),
        "version_data": .fields(["version_format": .string,
                                 "sources": .list(.fields(["name": .string, "stream": .string, "ignore": stringList,
                                                           "commit_source": .string, "use_release": .bool]))]),
        "version-transform": .list(.fields(["match": .string, "replace": .string])),
        "exclude-reason": .string,
        "schedule": .fields(["reason": .string, "period": .string]),
        "enable-prerelease-tags": .bool,
    ])
    static let data: Shape = .list(.fields(["name": .string, "items": .stringMap]))
    static let capabilities: Shape = .fields(["add": stringList, "drop": stringList])
    static let cpe: Shape = .fields(["part": .string, "vendor": .string, "product": .string, "edition": .string,
                                     "language": .string, "sw_edition": .string, "target_sw": .string,
                                     "target_hw": .string, "other": .string])
    static let resources: Shape = .fields(["cpu": .string, "cpumodel": .string, "memory": .string, "disk": .string])
    static let checks: Shape = .fields(["disabled": stringList])
    static let setcap: Shape = .list(.fields(["path": .string, "add": .stringMap, "reason": .string]))
    static let runtimeKeyring: Shape = .list(.fields(["name": .string, "content": .string]))
}

extension YAMLReader {
    /// Checks `node` against `shape`; `what` is its path in the recipe (`update.github`).
    func check(_ node: Node, _ shape: Shape, _ what: String) throws {
        if isNull(node) { return }
        switch shape {
        case .string: _ = try string(node, what)
        case .bool: _ = try bool(node, what)
        case .int:
            if case .scalar(let s) = node, s.style != .plain && s.style != .any {
                throw RecipeError(.wrongType, location(node), "\(what): expected an integer, found the quoted string `\(s.string)` (melange rejects it: write it without quotes)")
            }
            _ = try int(node, what)
        case .list(let element):
            for (i, e) in try sequence(node, what).enumerated() { try check(e, element, "\(what)[\(i)]") }
        case .stringMap: _ = try stringMap(node, what)
        case .fields(let known):
            _ = try fields(node, what, known: Set(known.keys)) { key, v in try check(v, known[key]!, "\(what).\(key)") }
        }
    }
}
