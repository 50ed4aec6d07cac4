import Foundation
import KilnCore

/// How a rebuild's environment differs from a normal build (`kiln repro`, reprotest-style). Every
/// field left nil keeps the normal value. Owned by the repro engineer; Sandbox/Builder only pass
/// it through (Sandbox.variation, BuildRequest.variation).
public struct BuildEnvironmentVariation: Sendable, Equatable, Codable {
    /// Shift the wall clock the build sees (libfaketime's FAKETIME, e.g. `+397d`): a build that
    /// reads the clock instead of SOURCE_DATE_EPOCH then differs.
    public var clockOffset: String?
    /// umask for every step (normal: 022).
    public var umask: String?
    /// umask of the sandbox child process only — bwrap, its launcher and whatever they create before
    /// a step sets its own umask (octal, e.g. `0002`; normal: kiln's). kiln's own umask is never changed.
    public var childUmask: String?
    /// TZ (normal: UTC). A POSIX TZ string needs no tzdata in the root.
    public var timeZone: String?
    /// LANG / LC_ALL / LANGUAGE (normal: C.UTF-8).
    public var locale: String?
    /// Host name inside the sandbox (normal: kiln).
    public var hostname: String?
    /// uid/gid and user name inside the sandbox (normal: 0/0 root).
    public var uid: Int?
    public var gid: Int?
    public var userName: String?
    /// Number of CPUs the build may use (taskset; what `nproc` reports). Normal: all.
    public var cpus: Int?
    /// NIS domain name inside the sandbox (normal: the host's, usually `(none)`). Set in a fresh UTS
    /// namespace before bwrap starts; bwrap's own UTS namespace starts as a copy of it.
    public var domainName: String?
    /// The build sees the workspace through disorderfs, which lists every directory in reverse
    /// order (normal: the order of the workspace's filesystem). kiln's own work outside the
    /// sandbox (checkouts, packaging) uses the workspace directly.
    public var reverseDirectoryOrder: Bool?

    public init() {}

    public var isEmpty: Bool { self == BuildEnvironmentVariation() }

    /// Where libfaketime is on the machine kiln runs on (Debian package libfaketime).
    public static var hostLibFaketime: String? {
        ["/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
         "/usr/lib/faketime/libfaketime.so.1"].first { FileManager.default.fileExists(atPath: $0) }
    }
    static let sandboxLibFaketime = "/.kiln-faketime/libfaketime.so.1"

    /// Checks the host can apply the variation (libfaketime, taskset).
    public func validate() throws {
        if let m = childUmask, m.isEmpty || m.count > 4 || !m.allSatisfy({ ("0"..."7").contains($0) }) {
            throw KilnMessage("the sandbox's umask `\(m)` is not an octal umask such as 0002")
        }
        if clockOffset != nil && BuildEnvironmentVariation.hostLibFaketime == nil {
            throw KilnMessage("varying the clock needs libfaketime: run `make deps` (Debian package libfaketime), or leave `time` out of --vary")
        }
        if cpus != nil && Subprocess.which("taskset") == nil {
            throw KilnMessage("varying the CPU count needs taskset (Debian package util-linux), or leave `cpus` out of --vary")
        }
        if needsLauncher && (geteuid() != 0 || Subprocess.which("unshare") == nil) {
            throw KilnMessage("varying the domain name or directory order needs root and unshare (Debian package util-linux): "
                              + "kiln makes a new UTS/mount namespace around bwrap; run as root, or leave `domain` and `dir-order` out of --vary")
        }
        if reverseDirectoryOrder == true
            && (Subprocess.which("disorderfs") == nil || Subprocess.which("fusermount") == nil || !FileManager.default.fileExists(atPath: "/dev/fuse")) {
            throw KilnMessage("varying the directory order needs disorderfs and FUSE (/dev/fuse): run `make deps` "
                              + "(Debian package disorderfs), or leave `dir-order` out of --vary")
        }
    }

    /// Whether the sandbox must be started through `launcher` (a domain name or directory order to set up).
    var needsLauncher: Bool { domainName != nil || reverseDirectoryOrder == true }

    /// Runs in a new UTS and mount namespace (`unshare --uts --mount --propagation private`), so the
    /// domain name and the disorderfs mount are seen by bwrap (started as "$@") and by nothing else:
    /// sets the domain name, mounts disorderfs over the workspace at the mount point, runs bwrap,
    /// unmounts. Arguments: domain (or empty), workspace, mount point (or empty), then bwrap's command.
    static let launcherScript = """
        set -e
        domain=$1 lower=$2 view=$3; shift 3
        if [ -n "$domain" ]; then printf '%s' "$domain" > /proc/sys/kernel/domainname; fi
        if [ -n "$view" ]; then
          disorderfs -q --multi-user=yes --reverse-dirents=yes --shuffle-dirents=no --pad-blocks=0 \\
            -o hard_remove,use_ino "$lower" "$view"
        fi
        set +e
        "$@"
        rc=$?
        if [ -n "$view" ]; then fusermount -u -z "$view" 2>/dev/null || umount -l "$view"; fi
        exit $rc
        """

    /// The command that starts `command` (bwrap and its arguments) with the domain name and the
    /// workspace view (`view`: the disorderfs mount point bwrap binds at /home/build) set up.
    func launcher(_ command: [String], workspace: String, view: String?) -> [String] {
        ["unshare", "--uts", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", Self.launcherScript,
         "kiln-sandbox", domainName ?? "", workspace, view ?? ""] + command
    }

    /// Variables it changes (applied over the fixed environment, under the recipe's own).
    func apply(to env: inout [String: String]) {
        if let tz = timeZone { env["TZ"] = tz }
        if let l = locale { env["LANG"] = l; env["LC_ALL"] = l; env["LANGUAGE"] = l }
        if let u = userName { env["USER"] = u; env["LOGNAME"] = u }
        if let off = clockOffset {
            env["LD_PRELOAD"] = BuildEnvironmentVariation.sandboxLibFaketime
            env["FAKETIME"] = off
            env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
        }
    }

    /// Extra bwrap arguments (placed before the other mounts).
    func mountArguments() -> [String] {
        guard clockOffset != nil, let lib = BuildEnvironmentVariation.hostLibFaketime else { return [] }
        return ["--ro-bind", lib, BuildEnvironmentVariation.sandboxLibFaketime]
    }

    /// A command that wraps the step's shell (`taskset -c 0-N`).
    func commandPrefix() -> [String] {
        guard let n = cpus, n > 0 else { return [] }
        return ["taskset", "-c", n == 1 ? "0" : "0-\(n - 1)"]
    }
}
