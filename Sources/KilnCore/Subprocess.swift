import Foundation

/// Runs a program without a shell. Output is captured (or streamed to a log file); the
/// environment is exactly what is given unless `inheritEnvironment` is set.
public struct Subprocess: Sendable {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: Data
        public var stderr: Data
        public var stdoutString: String { String(decoding: stdout, as: UTF8.self) }
        public var stderrString: String { String(decoding: stderr, as: UTF8.self) }
        public var succeeded: Bool { status == 0 }
    }

    public var executable: String
    public var arguments: [String]
    public var environment: [String: String]?
    public var workingDirectory: String?
    /// When set, stdout and stderr are appended to this file instead of being captured.
    public var logFile: String?
    public var stdin: Data?

    public init(_ executable: String, _ arguments: [String] = [], environment: [String: String]? = nil,
                workingDirectory: String? = nil, logFile: String? = nil, stdin: Data? = nil) {
        self.executable = executable; self.arguments = arguments; self.environment = environment
        self.workingDirectory = workingDirectory; self.logFile = logFile; self.stdin = stdin
    }

    /// Finds `name` on PATH (or returns it if it is already a path).
    public static func which(_ name: String) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
        for dir in path.split(separator: ":") {
            let p = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    @discardableResult
    public func run() throws -> Result {
        guard let exe = Subprocess.which(executable) else {
            throw KilnMessage("cannot run \(executable): not found on PATH (run `make deps` to install what kiln needs)")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = arguments
        if let environment { p.environment = environment }
        if let workingDirectory { p.currentDirectoryURL = URL(fileURLWithPath: workingDirectory) }
        let outPipe = Pipe(), errPipe = Pipe()
        var logHandle: FileHandle?
        if let logFile {
            if !FileManager.default.fileExists(atPath: logFile) {
                FileManager.default.createFile(atPath: logFile, contents: nil)
            }
            guard let h = FileHandle(forWritingAtPath: logFile) else {
                throw KilnMessage("cannot open log file \(logFile)")
            }
            h.seekToEndOfFile()
            logHandle = h
            p.standardOutput = h
            p.standardError = h
        } else {
            p.standardOutput = outPipe
            p.standardError = errPipe
        }
        let inPipe = Pipe()
        p.standardInput = stdin == nil ? FileHandle.nullDevice : inPipe
        do { try p.run() } catch {
            throw KilnMessage("cannot run \(exe): \(error.localizedDescription)")
        }
        if let stdin {
            DispatchQueue.global().async {
                inPipe.fileHandleForWriting.write(stdin)
                try? inPipe.fileHandleForWriting.close()
            }
        }
        var out = Data(), err = Data()
        if logHandle == nil {
            let group = DispatchGroup()
            let errRead = LockedValue(Data())   // filled by the reader thread, read after group.wait()
            group.enter()
            DispatchQueue.global().async {
                let d = errPipe.fileHandleForReading.readDataToEndOfFile()
                errRead.withLock { $0 = d }
                group.leave()
            }
            out = outPipe.fileHandleForReading.readDataToEndOfFile()
            group.wait()
            err = errRead.value
        }
        p.waitUntilExit()
        try? logHandle?.close()
        let status = p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
        return Result(status: status, stdout: out, stderr: err)
    }

    /// Runs and throws (with the last lines of stderr) when the exit status is not 0.
    @discardableResult
    public func check() throws -> Result {
        let r = try run()
        guard r.succeeded else {
            let tail = r.stderrString.split(separator: "\n").suffix(20).joined(separator: "\n")
            throw KilnMessage("\(executable) \(arguments.joined(separator: " ")) failed (exit \(r.status))"
                              + (tail.isEmpty ? "" : ":\n\(tail)"))
        }
        return r
    }
}
