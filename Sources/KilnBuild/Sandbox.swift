import Foundation
import KilnCore
import KilnRecipe

/// Runs commands in a bubblewrap sandbox: new user/pid/ipc/uts/net/cgroup namespaces (no network at
/// all), the toolchain root read-only, `/` itself read-only, a writable workspace at `/home/build`,
/// `/tmp` a tmpfs, a fixed environment. Nothing else of the host is visible.
public struct Sandbox: Sendable {
    public var toolchain: Toolchain
    /// Host directory mounted read-write at `/home/build`.
    public var workspace: String
    /// Extra read-only binds: host path → sandbox path.
    public var readOnlyBinds: [(host: String, sandbox: String)] = []
    public var sourceDateEpoch: Int64
    public var hostname = "kiln"

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
    public func mountArguments() throws -> [String] {
        try toolchain.validate()
        let fm = FileManager.default
        let root = toolchain.rootPath == "/" ? "" : toolchain.rootPath
        var a = ["--unshare-all", "--die-with-parent", "--new-session", "--uid", "0", "--gid", "0",
                 "--hostname", hostname]
        for d in Toolchain.systemDirectories {
            let p = "\(root)/\(d)"
            if let target = try? fm.destinationOfSymbolicLink(atPath: p) {
                a += ["--symlink", target, "/\(d)"]
            } else {
                var isDir: ObjCBool = false
                if fm.fileExists(atPath: p, isDirectory: &isDir), isDir.boolValue { a += ["--ro-bind", p, "/\(d)"] }
            }
        }
        if toolchain.isHost {
            a += ["--dir", "/etc"]
            for e in Toolchain.hostEtcEntries where fm.fileExists(atPath: "/etc/\(e)") {
                if e.contains("/") { a += ["--dir", "/etc/" + (e as NSString).deletingLastPathComponent] }
                a += ["--ro-bind", "/etc/\(e)", "/etc/\(e)"]
            }
        } else if fm.fileExists(atPath: "\(root)/etc") {
            a += ["--ro-bind", "\(root)/etc", "/etc"]
        }
        a += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--dir", "/var", "--tmpfs", "/var/tmp"]
        a += ["--bind", workspace, SandboxPaths.workspace]
        for b in readOnlyBinds { a += ["--ro-bind", b.host, b.sandbox] }
        // Everything not mounted above (the root tmpfs bwrap makes) becomes read-only.
        a += ["--remount-ro", "/"]
        return a
    }

    /// Runs `script` with `set -e` (and pipefail where the shell has it), umask 022, in `workingDirectory`
    /// (a sandbox path), appending output to `logFile`. Returns the exit status.
    public func run(script: String, workingDirectory: String = SandboxPaths.workspace,
                    environment extra: [String: String] = [:], logFile: String) throws -> Int32 {
        guard Subprocess.which("bwrap") != nil else {
            throw KilnMessage("bubblewrap (bwrap) is not installed: run `make deps` (Debian package bubblewrap)")
        }
        var args = try mountArguments()
        args += ["--chdir", SandboxPaths.workspace, "--clearenv"]
        for (k, v) in environment(extra: extra).sorted(by: { $0.key < $1.key }) { args += ["--setenv", k, v] }
        let sh = shell
        let prologue = "set -e\n" + (sh.hasSuffix("bash") ? "set -o pipefail\n" : "")
            + "umask 022\nmkdir -p \(shellQuote(workingDirectory))\ncd \(shellQuote(workingDirectory))\n"
        args += [sh, "-c", prologue + script]
        return try Subprocess("bwrap", args, environment: [:], logFile: logFile).run().status
    }
}

public func shellQuote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
