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
        if clockOffset != nil && BuildEnvironmentVariation.hostLibFaketime == nil {
            throw KilnMessage("varying the clock needs libfaketime: run `make deps` (Debian package libfaketime), or leave `time` out of --vary")
        }
        if cpus != nil && Subprocess.which("taskset") == nil {
            throw KilnMessage("varying the CPU count needs taskset (Debian package util-linux), or leave `cpus` out of --vary")
        }
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
