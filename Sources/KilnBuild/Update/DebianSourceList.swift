import Foundation
import KilnCore

/// `recipes/debian-sources.txt`: the files recipes take from Debian's archive, one row each:
/// `source|binary PACKAGE VERSION FILE SHA256`. The sha256 is the pin; the version says where the file
/// was found when it was pinned — any version whose file has that digest is as good (Debian rebuilds
/// and republishes revisions; an orig tarball's bytes stay the same).
public struct DebianSourceList: Sendable {
    /// One row.
    public struct Row: Sendable, Equatable {
        /// A source package's file (`apt-get source`) or a binary package (`apt-get download`).
        public enum Kind: String, Sendable { case source, binary }
        public var kind: Kind
        public var package: String
        /// The Debian version the file was pinned from.
        public var version: String
        public var file: String
        public var sha256: String
        /// Where the row is (file:line).
        public var location: SourceLocation
        /// A binary row's architecture, from its file name (`…_all.deb` → `all`, else `amd64`).
        public var binaryArch: String { file.hasSuffix("_all.deb") ? "all" : "amd64" }
    }

    /// The list's path.
    public var path: String
    /// The file's lines as read (comments and layout are kept when rows are rewritten).
    public var lines: [String]
    /// The rows, in file order.
    public var rows: [Row]

    /// Reads and parses a list; a malformed row is an error naming file:line.
    public static func load(_ path: String) throws -> DebianSourceList {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw KilnMessage("\(path): cannot read the Debian source list")
        }
        return try parse(text, path: path)
    }

    /// Parses list text.
    public static func parse(_ text: String, path: String) throws -> DebianSourceList {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var rows: [Row] = []
        for (i, line) in lines.enumerated() {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.isEmpty || t.hasPrefix("#") { continue }
            let f = t.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            let loc = SourceLocation(file: path, line: i + 1)
            guard f.count == 5, let kind = Row.Kind(rawValue: f[0]) else {
                throw KilnMessage("\(loc): expected `source|binary PACKAGE VERSION FILE SHA256`, got '\(t)'")
            }
            guard f[4].count == 64, f[4].allSatisfy(\.isHexDigit) else {
                throw KilnMessage("\(loc): '\(f[4])' is not a sha256 (64 hex digits)")
            }
            guard !f[3].contains("/"), f[3] != "..", f[3] != "." else {
                throw KilnMessage("\(loc): file '\(f[3])' must be a plain file name")
            }
            rows.append(Row(kind: kind, package: f[1], version: f[2], file: f[3], sha256: f[4].lowercased(), location: loc))
        }
        return DebianSourceList(path: path, lines: lines, rows: rows)
    }

    /// The text with row `old` rewritten to `new` (same columns, the line's spacing kept where it fits).
    /// When `keepOld`, the new row is added after the old one instead (another recipe still pins it).
    public func replacing(_ old: Row, with new: Row, keepOld: Bool = false) -> String {
        var out = lines
        let i = old.location.line - 1
        guard i >= 0, i < out.count else { return lines.joined(separator: "\n") }
        var line = out[i]
        for (a, b) in [(old.version, new.version), (old.file, new.file), (old.sha256, new.sha256)] where a != b {
            line = Self.replaceToken(a, with: b, in: line)
        }
        if keepOld { out.insert(line, at: i + 1) } else { out[i] = line }
        return out.joined(separator: "\n")
    }

    /// Replaces the whitespace-separated token `a` by `b`, padding or trimming the following spaces so
    /// the columns stay aligned where possible.
    static func replaceToken(_ a: String, with b: String, in line: String) -> String {
        var parts: [String] = []   // alternating token, spaces
        var cur = "", inSpace = false
        for c in line {
            let sp = c == " " || c == "\t"
            if sp != inSpace, !cur.isEmpty { parts.append(cur); cur = "" }
            inSpace = sp; cur.append(c)
        }
        if !cur.isEmpty { parts.append(cur) }
        for (k, p) in parts.enumerated() where p == a {
            parts[k] = b
            if k + 1 < parts.count, parts[k + 1].first == " " {
                let width = parts[k + 1].count - (b.count - a.count)
                parts[k + 1] = String(repeating: " ", count: max(1, width))
            }
            break
        }
        return parts.joined()
    }
}
