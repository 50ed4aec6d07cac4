import Foundation
import KilnArchive
import KilnCore
import KilnOCI

/// `kiln run`: unpacks an image from an OCI layout into a temporary root and runs its entrypoint
/// in bubblewrap — all namespaces unshared (no network), nothing from the host mounted, a fresh
/// /proc, /dev and /tmp, a clean environment (the image's Env only), as the image's user.
public enum ImageRunner {
    /// Default cap on the file data `kiln run` unpacks from all layers together: 4 GiB
    /// (`--max-unpacked`, `KILN_RUN_MAX_UNPACKED`).
    public static let defaultMaxUnpackedBytes: Int64 = 4 << 30
    /// Cap on the entries `kiln run` unpacks from all layers together: 2,000,000.
    public static let maxUnpackedEntries = 2_000_000

    /// Unpacks the image's layers in order into `root` (digests checked, safe extraction: links are
    /// re-checked against the finished tree of each layer, file data capped at `maxUnpackedBytes`).
    public static func unpack(layout: OCILayout, ref: String?, into root: String,
                              maxUnpackedBytes: Int64 = defaultMaxUnpackedBytes) throws -> OCI.ImageConfig {
        let (_, manifest) = try layout.imageManifest(ref: ref)
        let config: OCI.ImageConfig
        do {
            config = try JSONDecoder().decode(OCI.ImageConfig.self, from: try layout.readBlob(digest: manifest.config.digest))
        } catch let e as DecodingError {
            throw KilnMessage("\(layout.path): image config \(manifest.config.digest) is not a valid OCI image config: \(OCI.describe(e))")
        }
        var remaining = maxUnpackedBytes
        var entriesLeft = maxUnpackedEntries
        for l in manifest.layers {
            _ = try layout.readBlob(digest: l.digest)   // verifies the digest before anything is extracted
            let entries: [TarEntry]
            do {
                entries = try ArchiveReader.extract(path: try layout.blobPath(l.digest), to: root,
                                                    options: ExtractOptions(maxTotalBytes: remaining, maxEntries: entriesLeft))
            } catch let e as ArchiveError {
                if case .tooManyEntries(_, let entry, _) = e {
                    throw KilnMessage("\(layout.path): layer \(l.digest) stopped at entry '\(entry)': the image has more than "
                                      + "\(maxUnpackedEntries) entries (a possible decompression bomb)")
                }
                guard case .tooLarge(_, let entry, _) = e else { throw e }
                throw KilnMessage("\(layout.path): layer \(l.digest) stopped at entry '\(entry)': "
                                  + "the image unpacks to more than \(maxUnpackedBytes) bytes of file data (a possible decompression bomb)\nkiln run unpacks at most \(maxUnpackedBytes) bytes of file data; "
                                  + "pass --max-unpacked SIZE (or set KILN_RUN_MAX_UNPACKED) for a larger image you trust")
            }
            remaining -= entries.reduce(Int64(0)) { $0 + $1.size }
            entriesLeft -= entries.count
        }
        return config
    }

    /// uid/gid for the image's `User` (`name`, `uid`, `uid:gid`, `name:group`), using the image's
    /// own /etc/passwd and /etc/group.
    public static func resolveUser(_ user: String?, root: String) throws -> (uid: Int, gid: Int) {
        guard let user, !user.isEmpty else { return (0, 0) }
        let parts = user.split(separator: ":", maxSplits: 1).map(String.init)
        // Read as the image sees them: a link in the image can never lead to a host file.
        func table(_ f: String) -> [[String]] {
            guard case .success(let d) = RootedFile.read(root: root, path: "etc/" + f) else { return [] }
            return String(decoding: d, as: UTF8.self)
                .split(separator: "\n").map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) }
        }
        let passwd = table("passwd"), group = table("group")
        var uid: Int, gid: Int?
        if let n = Int(parts[0]) {
            uid = n
            gid = passwd.first { $0.count > 3 && Int($0[2]) == n }.flatMap { Int($0[3]) }
        } else {
            guard let row = passwd.first(where: { $0.first == parts[0] && $0.count > 3 }), let u = Int(row[2]) else {
                throw KilnMessage("image user '\(parts[0])' is not in the image's /etc/passwd; add it under accounts.users")
            }
            uid = u; gid = Int(row[3])
        }
        if parts.count == 2 {
            if let g = Int(parts[1]) { gid = g } else {
                guard let row = group.first(where: { $0.first == parts[1] && $0.count > 2 }), let g = Int(row[2]) else {
                    throw KilnMessage("image group '\(parts[1])' is not in the image's /etc/group")
                }
                gid = g
            }
        }
        return (uid, gid ?? uid)
    }

    /// The bubblewrap argument list for running `argv` in `root`. `kiln pod run` adds: `shareNetwork`
    /// (stay in the pod's network namespace, which it enters first), `mounts` (bwrap mount options
    /// applied after /proc, /dev and /tmp), `readOnlyRoot` (remount / read-only once the mount points
    /// exist) and `hostname` (the container's UTS name).
    public static func bwrapArguments(root: String, config: OCI.ImageConfig, argv: [String], uid: Int, gid: Int,
                                      shareNetwork: Bool = false, mounts: [String] = [], readOnlyRoot: Bool = false,
                                      hostname: String? = nil) -> [String] {
        var a = ["--unshare-all"] + (shareNetwork ? ["--share-net"] : []) + ["--die-with-parent", "--new-session",
                 "--bind", root, "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"] + mounts
        if readOnlyRoot { a += ["--remount-ro", "/"] }
        if let hostname { a += ["--hostname", hostname] }
        a += ["--uid", String(uid), "--gid", String(gid), "--clearenv"]
        for e in config.config.Env ?? [] {
            guard let eq = e.firstIndex(of: "=") else { continue }
            a += ["--setenv", String(e[..<eq]), String(e[e.index(after: eq)...])]
        }
        if let wd = config.config.WorkingDir, !wd.isEmpty { a += ["--chdir", wd] } else { a += ["--chdir", "/"] }
        return a + ["--"] + argv
    }

    /// Runs the image; returns the command's exit status. stdin/stdout/stderr are passed through.
    /// `entrypoint`, when given, replaces the image's ENTRYPOINT (`[]` clears it).
    public static func run(reference: String, command: [String], entrypoint: [String]? = nil,
                           maxUnpackedBytes: Int64 = defaultMaxUnpackedBytes) throws -> Int32 {
        let ref = try LayoutReference.parse(reference)
        let (layoutPath, tag) = (ref.layout, ref.tag)
        let layout = try OCILayout(path: layoutPath)
        let root = NSTemporaryDirectory() + "kiln-run-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        chmod(root, 0o755)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let config = try unpack(layout: layout, ref: tag, into: root, maxUnpackedBytes: maxUnpackedBytes)
        // docker run semantics: --entrypoint drops the image's CMD too unless arguments are given.
        let argv = entrypoint.map { $0 + command }
            ?? (config.config.Entrypoint ?? []) + (command.isEmpty ? (config.config.Cmd ?? []) : command)
        guard !argv.isEmpty else {
            throw KilnMessage("the image has no entrypoint or cmd; give a command after `--`")
        }
        let (uid, gid) = try resolveUser(config.config.User, root: root)
        guard let bwrap = Subprocess.which("bwrap") else {
            throw KilnMessage("bwrap (bubblewrap) not found; run `make deps`")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bwrap)
        p.arguments = bwrapArguments(root: root, config: config, argv: argv, uid: uid, gid: gid)
        p.environment = [:]
        try p.run()
        p.waitUntilExit()
        return p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
    }
}
