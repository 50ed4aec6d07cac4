import Foundation
import KilnCrypto
import KilnCore

/// The file-by-file explanation of why two artifacts differ.
public struct ComparisonReport: Codable, Sendable {
    public struct AttributeDifference: Codable, Sendable, Equatable {
        public var attribute: String
        public var a: String
        public var b: String
    }
    public struct EntryDifference: Codable, Sendable {
        public enum Kind: String, Codable, Sendable { case onlyInA = "only-in-a", onlyInB = "only-in-b", differs }
        public var path: String
        public var kind: Kind
        public var attributes: [AttributeDifference]
        /// Offset of the first differing byte of the contents.
        public var firstDifferingByte: Int?
        public var textDiff: String?
        public var elfSections: [String]?
    }

    public var a: String
    public var b: String
    public var format: String
    public var digestA: String
    public var digestB: String
    public var reproducible: Bool
    public var differences: [EntryDifference]
    /// Offset of the first differing byte of the two files (nil when equal).
    public var firstDifferingByte: Int?
    /// The same in the decompressed streams (for gzip'd packages and layers).
    public var firstDifferingUncompressedByte: Int?
    public var diffoscopeReport: String?

    public var verdict: String {
        reproducible ? "reproducible" : "NOT reproducible (\(differences.count) differing entries)"
    }

    /// The human-readable explanation; ends with the verdict line.
    public func render() -> String {
        var s = "a: \(a) (\(digestA))\nb: \(b) (\(digestB))\n"
        for d in differences {
            switch d.kind {
            case .onlyInA: s += "only in a: \(d.path)\n"
            case .onlyInB: s += "only in b: \(d.path)\n"
            case .differs:
                s += "differs: \(d.path): " + d.attributes.map { "\($0.attribute) \($0.a) → \($0.b)" }.joined(separator: "; ")
                if let o = d.firstDifferingByte { s += "; first differing byte at \(o)" }
                s += "\n"
                if let e = d.elfSections, !e.isEmpty { s += "  ELF sections that differ: \(e.joined(separator: ", "))\n" }
                if let t = d.textDiff { s += t.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n") + "\n" }
            }
        }
        if let o = firstDifferingByte {
            s += "the files first differ at byte \(o)"
            if let u = firstDifferingUncompressedByte { s += " (uncompressed: byte \(u))" }
            s += "\n"
        }
        if let r = diffoscopeReport { s += "diffoscope report: \(r)\n" }
        return s + verdict + "\n"
    }
}

public enum Differ {
    static func firstDifference(_ a: Data, _ b: Data) -> Int? {
        if a == b { return nil }
        return a.withUnsafeBytes { pa in
            b.withUnsafeBytes { pb in
                let n = min(pa.count, pb.count)
                var i = 0
                // word-at-a-time would be faster; packages are small enough for bytes
                while i < n && pa[i] == pb[i] { i += 1 }
                return i
            }
        }
    }

    static func octal(_ m: UInt32) -> String { "0" + String(m, radix: 8) }

    /// Compares two artifacts: first by digest, then entry by entry.
    public static func compare(_ a: Artifact, _ b: Artifact) throws -> ComparisonReport {
        var diffs: [ComparisonReport.EntryDifference] = []
        if a.digest != b.digest || a.raw != b.raw {
            diffs = try compareEntries(a.entries, b.entries)
        }
        let same = a.digest == b.digest && a.raw == b.raw
        var firstU: Int?
        if let ua = a.uncompressed, let ub = b.uncompressed { firstU = firstDifference(ua, ub) }
        return ComparisonReport(a: a.path, b: b.path, format: a.format == b.format ? a.format : "\(a.format)/\(b.format)",
                                digestA: a.digest, digestB: b.digest, reproducible: same, differences: diffs,
                                firstDifferingByte: firstDifference(a.raw, b.raw), firstDifferingUncompressedByte: firstU,
                                diffoscopeReport: nil)
    }

    /// Entry-by-entry differences. When every entry matches but the artifacts still differ, the
    /// difference is in the archive itself (entry order, padding, compression): reported as one
    /// pseudo-entry so the count is never 0 for different files.
    public static func compareEntries(_ ea: [ArtifactEntry], _ eb: [ArtifactEntry]) throws -> [ComparisonReport.EntryDifference] {
        func index(_ es: [ArtifactEntry]) -> [String: ArtifactEntry] {
            var d: [String: ArtifactEntry] = [:]
            var dup: [String: Int] = [:]
            for e in es {
                // repeated paths (rare: a later member overrides) are kept apart with a suffix
                let n = dup[e.path, default: 0]; dup[e.path] = n + 1
                d[n == 0 ? e.path : "\(e.path) (#\(n + 1))"] = e
            }
            return d
        }
        let ia = index(ea), ib = index(eb)
        var out: [ComparisonReport.EntryDifference] = []
        for path in Set(ia.keys).union(ib.keys).sorted() {
            switch (ia[path], ib[path]) {
            case (_?, nil): out.append(.init(path: path, kind: .onlyInA, attributes: []))
            case (nil, _?): out.append(.init(path: path, kind: .onlyInB, attributes: []))
            case let (x?, y?):
                if let d = try compare(x, y) { out.append(d) }
            default: break
            }
        }
        if out.isEmpty {
            let oa = ea.map(\.path), ob = eb.map(\.path)
            if oa != ob {
                let i = (0..<min(oa.count, ob.count)).first { oa[$0] != ob[$0] } ?? min(oa.count, ob.count)
                out.append(.init(path: "<archive entry order>", kind: .differs, attributes: [
                    .init(attribute: "entry #\(i + 1)", a: i < oa.count ? oa[i] : "-", b: i < ob.count ? ob[i] : "-")]))
            }
        }
        return out
    }

    static func compare(_ x: ArtifactEntry, _ y: ArtifactEntry) throws -> ComparisonReport.EntryDifference? {
        var attrs: [ComparisonReport.AttributeDifference] = []
        func add(_ name: String, _ a: String, _ b: String) { if a != b { attrs.append(.init(attribute: name, a: a, b: b)) } }
        add("type", x.kind.rawValue, y.kind.rawValue)
        add("mode", octal(x.mode), octal(y.mode))
        add("owner", "\(x.uid):\(x.gid) (\(x.uname):\(x.gname))", "\(y.uid):\(y.gid) (\(y.uname):\(y.gname))")
        add("mtime", x.mtime.map(String.init) ?? "-", y.mtime.map(String.init) ?? "-")
        add("size", String(x.size), String(y.size))
        add("link target", x.linkTarget ?? "-", y.linkTarget ?? "-")
        for k in Set(x.extra.keys).union(y.extra.keys).sorted() { add(k, x.extra[k] ?? "-", y.extra[k] ?? "-") }
        var first: Int?, text: String?, elf: [String]?
        if x.data != y.data {
            add("content", try "sha256:" + Digest.sha256Hex(x.data), try "sha256:" + Digest.sha256Hex(y.data))
            first = firstDifference(x.data, y.data)
            if ELFSections.isELF(x.data) && ELFSections.isELF(y.data) {
                elf = ELFSections.differences(x.data, y.data)
            } else if TextDiff.isText(x.data) && TextDiff.isText(y.data) {
                text = TextDiff.unified(x.data, y.data, nameA: "a/\(x.path)", nameB: "b/\(y.path)")
            }
        }
        if attrs.isEmpty { return nil }
        return .init(path: x.path, kind: .differs, attributes: attrs, firstDifferingByte: first, textDiff: text, elfSections: elf)
    }
}
