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
