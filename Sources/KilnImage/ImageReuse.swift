import Foundation
import KilnAPK
import KilnCore
import KilnCrypto

/// Incremental `kiln image`: a layout whose inputs are unchanged is left alone (images are
/// deterministic, so rebuilding it would only re-sign it). A successful build (and signing) records its
/// inputs' key and the layout's exact bytes in `LAYOUT/.kiln-image.json`; a later run reuses the layout
/// only when the key is equal AND index.json and every blob are still byte-for-byte what was recorded
/// (blobs are hashed again: a tampered layout is rebuilt, never trusted) and the side files (SBOMs,
/// provenance) are unchanged. Anything else — no record, a failed or interrupted run (which leaves no
/// record), changed inputs, a changed layout — rebuilds, and the reason is reported.
///
/// The key is content-only: the sha256 of the kiln executable, of the config and its includes, of each
/// trusted key's public part, of each repository's APKINDEX.tar.gz, plus the options that shape the bytes and what the
/// caller adds (`extra`: e.g. the signing key's public part and the FIPS module that signs).
public struct ImageReuse: Sendable {
    /// The record's file name inside the layout (OCI layouts may hold other files).
    public static let fileName = ".kiln-image.json"

    /// The record a successful run leaves.
    public struct Record: Codable, Sendable, Equatable {
        public var version = 1
        /// sha256 of the inputs (`ImageReuse.key`).
        public var key: String
        /// The inputs, name → sha256 or value, for people reading the record.
        public var inputs: [String: String]
        /// When the run finished (RFC 3339, UTC).
        public var finished: String
        /// sha256 of index.json as the run left it.
        public var index: String
        /// Every blob under blobs/sha256 (hex name → size) as the run left it.
        public var blobs: [String: Int64]
        /// Side files the run wrote (absolute path → sha256).
        public var files: [String: String]
        /// Lines the run printed on stdout and on stderr, printed again when the layout is reused.
        public var stdout: [String]
        public var stderr: [String]
        /// The executable's stat identity when its sha256 was taken (a cache: same identity ⇒ same hash).
        public var executableStat: String
    }

    /// The inputs: name → sha256 (files) or value (options).
    public let inputs: [String: String]
    /// The stat identity of the executable whose sha256 is `inputs["kiln"]`.
    public let executableStat: String
    /// The layout directory.
    public let layout: String

    /// The inputs of building `config` with `options` into `layout`, plus `extra` (name → value).
    public init(config: ImageConfig, options: ImageBuildOptions, layout: String, extra: [String: String] = [:]) throws {
        self.layout = layout
        let previous = Self.readRecord(layout: layout)
        var i = extra
        let exe = try Self.executableHash(previous: previous)
        executableStat = exe.stat
        i["kiln"] = exe.sha256
        for (n, f) in config.sourceFiles.enumerated() { i[n == 0 ? "config" : "include:\(f)"] = try Self.fileHash(f) }
        // The trusted keys' public parts (a --keyring directory contributes only the public keys in it).
        let ring = try APKKeyring.image(paths: config.keyring + options.extraKeys)
        for (name, k) in ring.keys { i["keyring:\(name)"] = try Digest.sha256Hex(k.der()) }
        for k in config.runtimeKeyring { i["runtime_keyring:\(k.name)"] = try Digest.sha256Hex(k.pem) }
        let repos = options.repositories ?? config.repositories.compactMap(\.path)
        for (n, r) in repos.enumerated() {
            let idx = Repository.indexPath(r, arch: "x86_64")
            i["apkindex:\(n):\(r)"] = FileManager.default.fileExists(atPath: idx) ? try Self.fileHash(idx) : "missing"
        }
        i["variants"] = options.variants.map(\.rawValue).joined(separator: ",")
        if let lock = options.lock { i["lock"] = try Digest.sha256Hex(try lock.encoded()) }
        i["source-date-epoch"] = (options.sourceDateEpoch ?? SourceDateEpoch.fromEnvironment()).map(String.init) ?? "packages"
        i["gzip-level"] = String(options.gzipLevel)
        inputs = i
    }

    /// sha256 over the sorted `name=value` lines of the inputs.
    public var key: String {
        get throws { try Digest.sha256Hex(Data(inputs.keys.sorted().map { "\($0)=\(inputs[$0]!)\n" }.joined().utf8)) }
    }

    /// The sha256 of the first repository's APKINDEX.tar.gz (for the "built from" line).
    public var apkindex: String? { inputs.keys.sorted().first { $0.hasPrefix("apkindex:0:") }.flatMap { inputs[$0] } }

    /// The previous record when the layout can be reused as it is; otherwise nil and why not.
    public func reusable() throws -> (record: Record?, reason: String) {
        guard let r = Self.readRecord(layout: layout) else {
            return (nil, FileManager.default.fileExists(atPath: layout + "/oci-layout")
                ? "no record of a successful build in \(layout)" : "no layout at \(layout) yet")
        }
        let k = try key
        guard r.key == k else {
            let changed = Set(inputs.keys).union(r.inputs.keys).sorted().filter { inputs[$0] != r.inputs[$0] }
            return (nil, "inputs changed since \(r.finished): " + (changed.isEmpty ? "key" : changed.prefix(4).joined(separator: ", ")))
        }
        let index = layout + "/index.json"
        guard FileManager.default.fileExists(atPath: index), try Self.fileHash(index) == r.index else {
            return (nil, "\(index) differs from what the build of \(r.finished) wrote")
        }
        let dir = layout + "/blobs/sha256"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        guard Set(names) == Set(r.blobs.keys) else { return (nil, "\(dir): blobs added or removed since \(r.finished)") }
        for (hex, size) in r.blobs {
            let p = dir + "/" + hex
            var st = stat()
            guard lstat(p, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, Int64(st.st_size) == size,
                  try Digest.hashFile(.sha256, path: p).hexString == hex else {
                return (nil, "\(p): not the blob the build of \(r.finished) wrote")
            }
        }
        for (f, sha) in r.files {
            guard FileManager.default.fileExists(atPath: f), try Self.fileHash(f) == sha else {
                return (nil, "\(f) differs from what the build of \(r.finished) wrote")
            }
        }
        return (r, "unchanged since \(r.finished)")
    }

    /// Records a successful run: the layout's bytes as they are now, `files` (side files written) and
    /// the lines it printed. Written last, atomically, so an interrupted or failed run leaves no record.
    public func record(files: [String], stdout: [String], stderr: [String]) throws {
        let dir = layout + "/blobs/sha256"
        var blobs: [String: Int64] = [:]
        for n in try FileManager.default.contentsOfDirectory(atPath: dir) {
            var st = stat()
            guard lstat(dir + "/" + n, &st) == 0 else { throw KilnMessage("\(dir)/\(n): cannot stat") }
            blobs[n] = Int64(st.st_size)
        }
        var side: [String: String] = [:]
        for f in files { side[URL(fileURLWithPath: f).standardizedFileURL.path] = try Self.fileHash(f) }
        let r = Record(key: try key, inputs: inputs, finished: SourceDateEpoch.rfc3339(Int64(Date().timeIntervalSince1970)),
                       index: try Self.fileHash(layout + "/index.json"), blobs: blobs, files: side,
                       stdout: stdout, stderr: stderr, executableStat: executableStat)
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        try AtomicFile.write(try e.encode(r), to: layout + "/" + Self.fileName)
    }

    /// Removes the record (before a rebuild, so a failure cannot leave a stale one behind).
    public func forget() { try? FileManager.default.removeItem(atPath: layout + "/" + Self.fileName) }

    static func readRecord(layout: String) -> Record? {
        guard let d = FileManager.default.contents(atPath: layout + "/" + fileName) else { return nil }
        return try? JSONDecoder().decode(Record.self, from: d)
    }

    static func fileHash(_ path: String) throws -> String { try Digest.hashFile(.sha256, path: path).hexString }

    /// The running executable's sha256, taken from the previous record when the file's stat identity
    /// (device, inode, size, mtime and ctime in ns) is the one recorded with it; hashed otherwise.
    static func executableHash(previous: Record?) throws -> (stat: String, sha256: String) {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var st = stat()
        guard stat(exe, &st) == 0 else { throw KilnMessage("\(exe): cannot stat the kiln executable") }
        let id = "\(st.st_dev):\(st.st_ino):\(st.st_size):\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec):\(st.st_ctim.tv_sec).\(st.st_ctim.tv_nsec)"
        if let p = previous, p.executableStat == id, let h = p.inputs["kiln"] { return (id, h) }
        return (id, try fileHash(exe))
    }
}
