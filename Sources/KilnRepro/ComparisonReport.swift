import Foundation

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
