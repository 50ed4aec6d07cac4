import Foundation
import KilnTestSupport
import XCTest

/// One hostile case's playground: `work/` holds the inputs and kiln's output, `victim/` beside it
/// stands for "any host directory" — a case passes only if `victim/` is byte-for-byte untouched.
struct Playground {
    /// The directory kiln runs in (cwd); inputs and `out/` live here.
    let work: String
    /// A directory outside `work` that no input may change.
    let victim: String
    /// The parent of both (`../victim` from `work`).
    let root: String

    init(_ testCase: XCTestCase) throws {
        root = try TestSupport.temporaryDirectory(testCase, prefix: "kiln-hostile")
        work = "\(root)/work"
        victim = "\(root)/victim"
        for d in [work, "\(victim)/sub"] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
        try Data("precious\n".utf8).write(to: URL(fileURLWithPath: "\(victim)/precious.txt"))
        try Data("nested\n".utf8).write(to: URL(fileURLWithPath: "\(victim)/sub/nested.txt"))
        var ts = [timespec(tv_sec: 1_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000, tv_nsec: 0)]
        for p in [victim, "\(victim)/sub", "\(victim)/precious.txt", "\(victim)/sub/nested.txt"] {
            utimensat(AT_FDCWD, p, &ts, AT_SYMLINK_NOFOLLOW)
        }
    }

    /// Writes `text` to `work/<name>` (creating directories) and returns the path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let path = "\(work)/\(name)"
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Every entry below `root` except `work/` (path, type, size, mode, mtime, contents digest) — the
    /// state no hostile input may change.
    func snapshot() -> [String] { Self.snapshot(root, skipping: work) }

    static func snapshot(_ dir: String, skipping: String? = nil) -> [String] {
        var out: [String] = []
        var st = stat()
        if lstat(dir, &st) == 0 { out.append(". \(st.st_mode) \(st.st_mtim.tv_sec)") }
        guard let e = FileManager.default.enumerator(atPath: dir) else { return out }
        while let rel = e.nextObject() as? String {
            let p = "\(dir)/\(rel)"
            if let skipping, p == skipping || p.hasPrefix(skipping + "/") { continue }
            guard lstat(p, &st) == 0 else { out.append("\(rel) gone"); continue }
            var line = "\(rel) \(st.st_mode) \(st.st_size) \(st.st_mtim.tv_sec)"
            if (st.st_mode & S_IFMT) == S_IFREG, let d = FileManager.default.contents(atPath: p) {
                line += " \(d.hashValue)"
            }
            out.append(line)
        }
        return out.sorted()
    }

    /// Runs the real kiln in `work` and returns its result.
    func kiln(_ args: [String], environment extra: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
        var env = ProcessInfo.processInfo.environment
        for (k, v) in extra { env[k] = v }
        return try TestSupport.kiln(args, environment: env, cwd: work)
    }

    /// Runs kiln expecting a refusal: non-zero exit, no trap (exit status of a signal), stderr naming
    /// every `mentions`, and `victim/` unchanged.
    func refuses(_ args: [String], mentions: [String], environment: [String: String] = [:],
                 file: StaticString = #filePath, line: UInt = #line) throws {
        let before = snapshot()
        let r = try kiln(args, environment: environment)
        XCTAssertNotEqual(r.status, 0, "kiln \(args.joined(separator: " ")) succeeded:\n\(r.out)\(r.err)", file: file, line: line)
        XCTAssertLessThan(r.status, 128, "kiln \(args.joined(separator: " ")) crashed (status \(r.status)):\n\(r.err)", file: file, line: line)
        for m in mentions {
            XCTAssertTrue(r.err.contains(m), "kiln \(args.joined(separator: " ")): stderr does not mention `\(m)`:\n\(r.err)",
                          file: file, line: line)
        }
        XCTAssertEqual(snapshot(), before, "kiln \(args.joined(separator: " ")) changed files outside its work dir", file: file, line: line)
    }
}
