import Foundation
import KilnCore

/// What `kiln pod run` reads from /proc: process trees (to stop every process of a container) and
/// the pod network namespace's listening TCP sockets (for `ready: {port}`).
enum PodProc {
    /// Every descendant of `pid` (children first found, then theirs), from /proc/*/stat.
    static func descendants(of pid: Int32) -> [Int32] {
        var children: [Int32: [Int32]] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let p = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let ppid = Int32(fields[1]) { children[ppid, default: []].append(p) }
        }
        var out: [Int32] = [], queue = [pid]
        while let p = queue.popLast() {
            for c in children[p] ?? [] { out.append(c); queue.append(c) }
        }
        return out
    }

    /// The local ports of sockets in LISTEN state in `pid`'s network namespace (IPv4 and IPv6).
    static func listeningPorts(pid: Int32) -> Set<Int> {
        var ports = Set<Int>()
        for f in ["tcp", "tcp6"] {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/net/\(f)", encoding: .utf8) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let cols = line.split(separator: " ")
                guard cols.count > 3, cols[3] == "0A", let colon = cols[1].lastIndex(of: ":"),
                      let port = Int(cols[1][cols[1].index(after: colon)...], radix: 16) else { continue }
                ports.insert(port)
            }
        }
        return ports
    }
}

/// Where a pod's output goes: each container's lines, prefixed `[name] `, to kiln's stdout (the
/// container's stdout) or stderr (its stderr), and — with a log directory — to `DIR/NAME.log`.
/// Whole lines are written under one lock, so lines of different containers never interleave.
final class PodLog: Sendable {
    private let lock = NSLock()
    private let files: [String: Int32]

    init(containers: [String], directory: String?) throws {
        var files: [String: Int32] = [:]
        if let directory {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            for c in containers {
                let fd = open(directory + "/\(c).log", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
                guard fd >= 0 else { throw KilnMessage("\(directory)/\(c).log: cannot write the container's log (\(String(cString: strerror(errno))))") }
                files[c] = fd
            }
        }
        self.files = files
    }

    deinit { for fd in files.values { Foundation.close(fd) } }

    /// Writes one prefixed line of container `name` to `fd` (1 or 2) and its log file.
    func line(_ name: String, _ text: Data, to fd: Int32) {
        var d = Data("[\(name)] ".utf8)
        d.append(text)
        d.append(0x0A)
        lock.lock(); defer { lock.unlock() }
        Self.writeAll(fd, d)
        if let f = files[name] { Self.writeAll(f, text + Data([0x0A])) }
    }

    /// A line from the pod runner itself (stderr, `pod NAME: …`).
    func note(_ text: String) {
        lock.lock(); defer { lock.unlock() }
        Self.writeAll(2, Data((text + "\n").utf8))
    }

    static func writeAll(_ fd: Int32, _ d: Data) {
        d.withUnsafeBytes { b in
            var off = 0
            while off < b.count {
                let n = write(fd, b.baseAddress! + off, b.count - off)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                off += n
            }
        }
    }

    /// Reads `fd` (owned: closed at EOF) on its own thread, writing each line prefixed; `group`
    /// is left when the stream ends. A line longer than 64 KiB is written in pieces.
    func follow(_ fd: Int32, name: String, to out: Int32, group: DispatchGroup) {
        group.enter()
        Thread.detachNewThread { [self] in
            var pending = Data()
            var buf = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = read(fd, &buf, buf.count)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                pending.append(contentsOf: buf[0..<n])
                while let nl = pending.firstIndex(of: 0x0A) {
                    line(name, pending[pending.startIndex..<nl], to: out)
                    pending = Data(pending[pending.index(after: nl)...])
                }
                if pending.count > 65536 { line(name, pending, to: out); pending = Data() }
            }
            if !pending.isEmpty { line(name, pending, to: out) }
            Foundation.close(fd)
            group.leave()
        }
    }
}
