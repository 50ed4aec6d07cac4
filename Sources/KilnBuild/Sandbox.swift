import Foundation
import KilnCore
import KilnRecipe

/// Runs commands in a bubblewrap sandbox: new user/pid/ipc/uts/net/cgroup namespaces (no network at
/// all), the toolchain root read-only, `/` itself read-only, a writable workspace at `/home/build`,
/// `/tmp` a tmpfs (or the build's own `tmpDirectory`), a fixed environment. Nothing else of the host is visible.
public struct Sandbox: Sendable {
    public var toolchain: Toolchain
    /// Host directory mounted read-write at `/home/build`.
    public var workspace: String
    /// Extra read-only binds: host path → sandbox path.
    public var readOnlyBinds: [(host: String, sandbox: String)] = []
    public var sourceDateEpoch: Int64
    public var hostname = "kiln"
    /// `kiln repro`'s varied environment (BuildVariation.swift); empty for normal builds.
    public var variation = BuildEnvironmentVariation()
    /// Root-shaped directories (e.g. built package trees) laid over the toolchain root, later ones
    /// winning. bubblewrap 0.8 has no overlay mounts, so the merge is made of tmpfs directories and
    /// read-only binds of every entry of the directories that both sides have.
    public var layers: [String] = []
    /// Host directory bound at `/tmp`, shared by every step of one build or test — melange runs all
    /// of them in one container, so a file a test step leaves in /tmp is there for the next (Wolfi's
    /// potrace test relies on it). nil: a fresh tmpfs for each step.
    public var tmpDirectory: String?

    public static let path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    public init(toolchain: Toolchain, workspace: String, sourceDateEpoch: Int64) {
        self.toolchain = toolchain; self.workspace = workspace; self.sourceDateEpoch = sourceDateEpoch
    }

    /// The fixed environment every step gets (plus the recipe's own variables).
    public func environment(extra: [String: String] = [:]) -> [String: String] {
        var env: [String: String] = [
            "PATH": Sandbox.path,
            "HOME": SandboxPaths.workspace,
            "SOURCE_DATE_EPOCH": String(sourceDateEpoch),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "TZ": "UTC",
            "TERM": "dumb",
            "USER": "root",
            "LOGNAME": "root",
        ]
        variation.apply(to: &env)
        for (k, v) in extra { env[k] = v }
        return env
    }

    /// The shell steps run in: bash when the root has it (melange recipes use `[[`/`==` that busybox
    /// ash accepts and dash does not), else `/bin/sh`.
    public var shell: String {
        let root = toolchain.rootPath == "/" ? "" : toolchain.rootPath
        return FileManager.default.isExecutableFile(atPath: root + "/bin/bash") ? "/bin/bash" : "/bin/sh"
    }

    /// bwrap arguments for the mounts and namespaces (everything before `--chdir`/env/command).
    /// `workspaceView`: what to bind at /home/build instead of `workspace` (the disorderfs mount).
    public func mountArguments(workspaceView: String? = nil) throws -> [String] {
        try toolchain.validate()
        let fm = FileManager.default
        let root = toolchain.rootPath == "/" ? "" : toolchain.rootPath
        var a = ["--unshare-all", "--die-with-parent", "--new-session", "--uid", String(variation.uid ?? 0),
                 "--gid", String(variation.gid ?? 0), "--hostname", variation.hostname ?? hostname] + variation.mountArguments()
        // Base top-level symlinks (merged /usr: /bin -> usr/bin): a layer's bin/ merges into usr/bin.
        var aliases: [String: [String]] = [:]
        for d in Toolchain.systemDirectories {
            if let t = try? fm.destinationOfSymbolicLink(atPath: "\(root)/\(d)"), !t.hasPrefix("/"), !t.contains("..") {
                aliases[t, default: []].append(d)
            }
        }
        for (i, l) in layers.enumerated() { a += ["--ro-bind", l, "\(Self.stage)/layer\(i)"] }
        let layerTops = Set(layers.flatMap { (try? fm.contentsOfDirectory(atPath: $0)) ?? [] })
        var tops = Toolchain.systemDirectories
        for t in layerTops.sorted() where !tops.contains(t) && !["etc", "home", "tmp", "proc", "dev", "var", "run"].contains(t) {
            tops.append(t)
        }
        for d in tops {
            let p = "\(root)/\(d)"
            if let target = try? fm.destinationOfSymbolicLink(atPath: p) {
                a += ["--symlink", target, "/\(d)"]
            } else {
                a += merge(rel: d, base: Self.isRealDirectory(p) ? p : nil, aliases: aliases, top: true)
            }
        }
        let layerEtc = layers.filter { Self.isRealDirectory("\($0)/etc") }
        if toolchain.isHost {
            // A few host files; the layers' /etc entries (config files of packages under test) beside them.
            a += layerEtc.isEmpty ? ["--dir", "/etc"] : ["--tmpfs", "/etc"]
            var taken = Set<String>()
            for e in Toolchain.hostEtcEntries where fm.fileExists(atPath: "/etc/\(e)") {
                if e.contains("/") { a += ["--dir", "/etc/" + (e as NSString).deletingLastPathComponent] }
                a += ["--ro-bind", "/etc/\(e)", "/etc/\(e)"]
                taken.insert(String(e.split(separator: "/")[0]))
            }
            for l in layerEtc.reversed() {
                for n in ((try? fm.contentsOfDirectory(atPath: "\(l)/etc")) ?? []).sorted() where taken.insert(n).inserted {
                    a += ["--symlink", staged("\(l)/etc/\(n)"), "/etc/\(n)"]
                }
            }
            if !layerEtc.isEmpty { a += ["--remount-ro", "/etc"] }
        } else if fm.fileExists(atPath: "\(root)/etc") {
            a += merge(rel: "etc", base: "\(root)/etc", aliases: [:], top: true)
        }
        a += ["--proc", "/proc", "--dev", "/dev"] + (tmpDirectory.map { ["--bind", $0, "/tmp"] } ?? ["--tmpfs", "/tmp"])
        a += ["--dir", "/var", "--tmpfs", "/var/tmp"]
        a += ["--bind", workspaceView ?? workspace, SandboxPaths.workspace]
        for b in readOnlyBinds { a += ["--ro-bind", b.host, b.sandbox] }
        // Everything not mounted above (the root tmpfs bwrap makes) becomes read-only.
        a += ["--remount-ro", "/"]
        return a
    }

    func inWorkspace(_ p: String) -> Bool {
        (p == SandboxPaths.workspace || p.hasPrefix(SandboxPaths.workspace + "/")) && !p.contains("/../") && !p.hasSuffix("/..")
    }

    static func isRealDirectory(_ p: String) -> Bool {
        var st = stat()
        return lstat(p, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func exists(_ p: String) -> Bool {
        var st = stat()
        return lstat(p, &st) == 0
    }

    /// Where merged directories point: the base root's directories and each layer are bound
    /// read-only once below `/.kiln/` and the merged directories (tmpfs) hold symlinks into them —
    /// symlinks cost no mount, so merging /usr/bin (a thousand entries) stays fast.
    static let stage = "/.kiln"

    /// The sandbox path that shows host path `host` (inside the base root or a layer).
    func staged(_ host: String) -> String {
        for (i, l) in layers.enumerated() where host == l || host.hasPrefix(l + "/") {
            return "\(Self.stage)/layer\(i)" + host.dropFirst(l.count)
        }
        let root = toolchain.rootPath == "/" ? "" : toolchain.rootPath
        return "\(Self.stage)/base" + host.dropFirst(root.count)
    }

    /// bwrap arguments that show `base` (a host directory, or nil) with the layers' `rel` on top.
    func merge(rel: String, base: String?, aliases: [String: [String]], top: Bool) -> [String] {
        let fm = FileManager.default
        func layerDirs(_ rel: String) -> [String] {
            layers.flatMap { l in ([rel] + (aliases[rel] ?? [])).map { "\(l)/\($0)" } }.filter(Self.isRealDirectory)
        }
        let dirs = layerDirs(rel)
        let aliasedBelow = aliases.contains { k, v in
            k.hasPrefix(rel + "/") && v.contains { d in layers.contains { Self.isRealDirectory("\($0)/\(d)") } }
        }
        if dirs.isEmpty && !aliasedBelow { return base.map { ["--ro-bind", $0, "/\(rel)"] } ?? [] }
        var a: [String] = []
        if top {
            if let base { a += ["--ro-bind", base, staged(base)] }
            a += ["--tmpfs", "/\(rel)"]
        } else {
            a += ["--dir", "/\(rel)"]
        }
        var names = Set<String>()
        for d in dirs + (base.map { [$0] } ?? []) { names.formUnion((try? fm.contentsOfDirectory(atPath: d)) ?? []) }
        for name in names.sorted() {
            let child = "\(rel)/\(name)"
            let fromLayers = dirs.map { "\($0)/\(name)" }.filter(Self.exists)
            let baseChild = base.map { "\($0)/\(name)" }.flatMap { Self.exists($0) ? $0 : nil }
            if let last = fromLayers.last {
                if let target = try? fm.destinationOfSymbolicLink(atPath: last) {
                    // A package's own symlink keeps its target, so a relative one (libcrypto.so ->
                    // libcrypto.so.3) resolves in the merged directory, where its target may come
                    // from another package's layer.
                    a += ["--symlink", target, "/\(child)"]
                } else if !Self.isRealDirectory(last) || (fromLayers.count == 1 && baseChild == nil) {
                    a += ["--symlink", staged(last), "/\(child)"]        // the last layer wins
                } else {
                    let baseDir = baseChild.flatMap { Self.isRealDirectory($0) ? $0 : nil }
                    a += merge(rel: child, base: baseDir, aliases: aliases, top: false)
                }
            } else if let baseChild {
                a += ["--symlink", staged(baseChild), "/\(child)"]
            }
        }
        if top { a += ["--remount-ro", "/\(rel)"] }
        return a
    }

    /// Runs `script` with `set -e` (and pipefail where the shell has it), umask 022, in `workingDirectory`
    /// (a sandbox path), appending output to `logFile`. Returns the exit status.
    public func run(script: String, workingDirectory: String = SandboxPaths.workspace,
                    environment extra: [String: String] = [:], logFile: String) throws -> Int32 {
        guard Subprocess.which("bwrap") != nil else {
            throw KilnMessage("bubblewrap (bwrap) is not installed: run `make deps` (Debian package bubblewrap)")
        }
        // Directories inside the workspace are made from outside (the root may have no mkdir).
        if inWorkspace(workingDirectory) {
            let host = workspace + workingDirectory.dropFirst(SandboxPaths.workspace.count)
            try FileManager.default.createDirectory(atPath: host, withIntermediateDirectories: true)
        }
        // dir-order: an empty mount point that only the launcher's private mount namespace mounts on.
        var view: String?
        if variation.reverseDirectoryOrder == true {
            view = (NSTemporaryDirectory() as NSString).appendingPathComponent("kiln-dir-order-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
            try FileManager.default.createDirectory(atPath: view!, withIntermediateDirectories: true)
        }
        defer { if let view { rmdir(view) } }
        var args = try mountArguments(workspaceView: view)
        args += ["--chdir", SandboxPaths.workspace, "--clearenv"]
        for (k, v) in environment(extra: extra).sorted(by: { $0.key < $1.key }) { args += ["--setenv", k, v] }
        let sh = shell
        let prologue = "set -e\n" + (sh.hasSuffix("bash") ? "set -o pipefail\n" : "")
            + "umask \(variation.umask ?? "022")\n"
            + (inWorkspace(workingDirectory) ? "" : "mkdir -p \(shellQuote(workingDirectory))\n")
            + "cd \(shellQuote(workingDirectory))\n"
        args += variation.commandPrefix() + [sh, "-c", prologue + script]
        if variation.needsLauncher {
            let command = withChildUmask(variation.launcher(["bwrap"] + args, workspace: workspace, view: view))
            let env = ["PATH": (ProcessInfo.processInfo.environment["PATH"].map { $0 + ":" } ?? "") + "/usr/sbin:/usr/bin:/sbin:/bin"]
            return try Subprocess(command[0], Array(command.dropFirst()), environment: env, logFile: logFile).run().status
        }
        guard let bwrap = Subprocess.which("bwrap") else { throw KilnMessage("bubblewrap (bwrap) is not installed: run `make deps`") }
        let command = withChildUmask([bwrap] + args)
        return try Subprocess(command[0], Array(command.dropFirst()), environment: [:], logFile: logFile).run().status
    }

    /// `command` started under `variation.childUmask` (through `/bin/sh -c 'umask M && exec "$0" "$@"'`),
    /// so only the child and what it starts get that umask; unchanged when none is set.
    func withChildUmask(_ command: [String]) -> [String] {
        guard let m = variation.childUmask else { return command }
        return ["/bin/sh", "-c", "umask \(m) && exec \"$0\" \"$@\""] + command
    }
}

public func shellQuote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
