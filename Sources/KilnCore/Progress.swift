import Foundation

/// Progress for long work: on a terminal a single updating line (step, how far, elapsed);
/// elsewhere (CI, pipes) plain lines, one per step. Writes to stderr so stdout stays data.
public final class Progress: @unchecked Sendable {
    public let isTerminal: Bool
    private let start = Date()
    private let lock = NSLock()
    private var lastLineLength = 0
    public var quiet: Bool
    /// When set, permanent lines go here instead of stderr (tests read what kiln reported).
    public let sink: (@Sendable (String) -> Void)?

    public init(quiet: Bool = false, forcePlain: Bool = false, sink: (@Sendable (String) -> Void)? = nil) {
        let env = ProcessInfo.processInfo.environment
        self.isTerminal = sink == nil && !forcePlain && isatty(STDERR_FILENO) == 1 && env["CI"] == nil && env["TERM"] != "dumb"
        self.quiet = quiet
        self.sink = sink
    }

    public static let shared = Progress()

    public var elapsed: TimeInterval { Date().timeIntervalSince(start) }

    public static func format(_ seconds: TimeInterval) -> String {
        if seconds < 60 { return String(format: "%.1fs", seconds) }
        let s = Int(seconds)
        return String(format: "%dm%02ds", s / 60, s % 60)
    }

    /// A transient status line ("[3/10] build zlib: make (12.3s)"). Plain mode prints it as a line.
    public func update(_ message: String, step: Int? = nil, of total: Int? = nil) {
        guard !quiet else { return }
        var line = ""
        if let step, let total { line += "[\(step)/\(total)] " }
        line += message + " (\(Progress.format(elapsed)))"
        lock.lock(); defer { lock.unlock() }
        if isTerminal {
            let cols = 120
            let shown = line.count > cols ? String(line.prefix(cols - 1)) + "…" : line
            let pad = max(0, lastLineLength - shown.count)
            FileHandle.standardError.write(Data(("\r" + shown + String(repeating: " ", count: pad)).utf8))
            lastLineLength = shown.count
        } else {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    /// A permanent line (clears a pending status line first).
    public func log(_ message: String) {
        guard !quiet else { return }
        if let sink { sink(message); return }
        lock.lock(); defer { lock.unlock() }
        if isTerminal && lastLineLength > 0 {
            FileHandle.standardError.write(Data(("\r" + String(repeating: " ", count: lastLineLength) + "\r").utf8))
            lastLineLength = 0
        }
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    public func finish() {
        lock.lock(); defer { lock.unlock() }
        if isTerminal && lastLineLength > 0 {
            FileHandle.standardError.write(Data("\n".utf8)); lastLineLength = 0
        }
    }
}
