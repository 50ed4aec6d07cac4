import Foundation
import Yams

/// Where a Yams syntax error is and what it says, for every YAML file kiln reads (recipes,
/// pipelines, image configs): one rule, so the same mistake is reported the same way.
public enum YAMLDiagnostics {
    /// The line and column of `e` in `file` (from the mark, or from the byte offset of a reader error).
    public static func location(of e: YamlError, file: String) -> SourceLocation {
        switch e {
        case .scanner(_, _, let m, _), .parser(_, _, let m, _), .composer(_, _, let m, _):
            return SourceLocation(file: file, line: m.line, column: m.column)
        case .reader(_, let offset, _, let yaml):
            if let offset {
                let prefix = yaml.utf8.prefix(offset)
                let line = prefix.filter { $0 == 0x0A }.count + 1
                let col = prefix.count - (prefix.lastIndex(of: 0x0A).map { prefix.distance(from: prefix.startIndex, to: $0) + 1 } ?? 0) + 1
                return SourceLocation(file: file, line: line, column: col)
            }
            return SourceLocation(file: file)
        default: return SourceLocation(file: file)
        }
    }

    /// The problem `e` reports, with its context first ("while scanning a simple key could not find expected ':'").
    public static func problem(_ e: YamlError) -> String {
        switch e {
        case .scanner(let c, let p, _, _), .parser(let c, let p, _, _), .composer(let c, let p, _, _):
            return (c.map { "\($0.text) " } ?? "") + p
        case .reader(let p, _, _, _): return p
        default: return "\(e)"
        }
    }
}
