import Foundation
import KilnCore

/// The read-only root a build runs on: compilers, shell, libraries. The sandbox mounts its
/// top-level system directories (`usr`, `bin`, `sbin`, `lib*`, `etc`, ...) read-only at the same
/// places inside the sandbox, so `/` of the build *is* this root (plus `/proc`, `/dev`, a tmpfs
/// `/tmp` and the writable `/home/build` workspace).
///
/// Agreed between `build` (sandbox) and `fips` (pinned Debian root, Sources/KilnBuild/Toolchain/
/// DebianToolchain*.swift): keep this tiny.
public struct Toolchain: Sendable, Equatable {
    /// Short name shown in logs and recorded in build results (`host`, `debian-bookworm`, ...).
    public var name: String
    /// Absolute path of the root directory. `/` means the host itself.
    public var rootPath: String
    /// Digest (hex sha256) of the lock file that pins the root's contents; nil when not pinned
    /// (the host toolchain). Part of a build's inputs.
    public var lockDigest: String?

    public init(name: String, rootPath: String, lockDigest: String? = nil) {
        self.name = name; self.rootPath = rootPath; self.lockDigest = lockDigest
    }

    /// The machine kiln runs on: its `/usr`, `/bin`, `/lib*`, `/etc/alternatives` and a few `/etc`
    /// files, read-only. Not pinned — fine for development and tests, not for release builds.
    public static let host = Toolchain(name: "host", rootPath: "/", lockDigest: nil)

    /// True for the host toolchain (only a minimal part of the host's `/etc` is exposed).
    public var isHost: Bool { rootPath == "/" }

    /// For messages: "the host's toolchain (/usr)" or "the toolchain root <path>".
    public var described: String { isHost ? "the host's toolchain (/usr)" : "the toolchain root \(rootPath)" }

    /// Top-level directories of a root that the sandbox binds read-only (when they exist).
    public static let systemDirectories = ["usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "opt"]

    /// `/etc` entries exposed from the host toolchain (a non-host root exposes its whole `/etc`).
    public static let hostEtcEntries = ["alternatives", "ld.so.cache", "ld.so.conf", "ld.so.conf.d",
                                        "passwd", "group", "nsswitch.conf", "localtime", "ssl/openssl.cnf"]

    /// Checks the root is usable: it must hold a `/bin/sh` (directly or through `usr`).
    public func validate() throws {
        let fm = FileManager.default
        guard fm.fileExists(atPath: rootPath) else {
            throw KilnMessage("toolchain \(name): root \(rootPath) does not exist")
        }
        let sh = (rootPath as NSString).appendingPathComponent("bin/sh")
        let usrSh = (rootPath as NSString).appendingPathComponent("usr/bin/sh")
        guard fm.fileExists(atPath: sh) || fm.fileExists(atPath: usrSh) else {
            throw KilnMessage("toolchain \(name): \(rootPath) has no /bin/sh — not a usable build root")
        }
    }
}
