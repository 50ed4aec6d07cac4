import Foundation

/// Every error kiln shows a user conforms to this: one line (or a few) that name the file/line
/// involved and say what to do. The CLI prints `description` and exits non-zero; never a trap.
public protocol KilnError: Error, CustomStringConvertible {}

/// A generic error for the edges (I/O, processes) where a dedicated enum would add nothing.
public struct KilnMessage: KilnError, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A position in a source file (YAML recipes, configs). `line`/`column` are 1-based; 0 means unknown.
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public init(file: String, line: Int = 0, column: Int = 0) {
        self.file = file; self.line = line; self.column = column
    }
    public var description: String {
        line > 0 ? (column > 0 ? "\(file):\(line):\(column)" : "\(file):\(line)") : file
    }
}

/// Sizes given on the command line or in the environment: `1048576`, `512K`, `100M`, `4G` (powers of 1024).
public enum ByteSize {
    /// The byte count `text` names; `what` (the option) is named in the error.
    public static func parse(_ text: String, what: String) throws -> Int64 {
        let t = text.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [Character: Int64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var digits = Substring(t), factor: Int64 = 1
        if let last = t.last, let f = units[last] { factor = f; digits = t.dropLast() }
        if digits.hasSuffix("I") || digits.hasSuffix("B") { digits = digits.dropLast() }
        guard let n = Int64(digits), n > 0 else {
            throw KilnMessage("\(what) \(text): expected a size like 1048576, 512K, 100M or 4G")
        }
        let (v, overflow) = n.multipliedReportingOverflow(by: factor)
        guard !overflow else { throw KilnMessage("\(what) \(text): too large") }
        return v
    }
}
