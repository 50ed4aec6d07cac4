import Foundation
import KilnCore

/// What a `--toolchain` option names: `host` (this machine's /usr, read-only), the pinned Debian
/// root (`debian`, or its suite name `bookworm`), or a prepared root directory. One rule for
/// `kiln build`, `kiln test`, `kiln nightly` and `kiln repro`.
public enum ToolchainSpec {
    /// Whether `spec` names the pinned Debian root (`debian`, or its suite `bookworm`).
    public static func isDebian(_ spec: String) -> Bool { spec == "debian" || spec == "bookworm" }

    /// The root `spec` names. The Debian root is bootstrapped once from `lockPath` under
    /// `<out>/toolchain/` (resolve mode, frozen with `KILN_FROZEN=1`); a directory must validate.
    /// `lockPath` is the lock file (the CLI resolves `DebianToolchain.defaultLockPath` once); the
    /// library never falls back to a working-directory-relative default.
    public static func resolve(_ spec: String, out: String, lockPath: String?) throws -> Toolchain {
        if spec == "host" { return .host }
        if isDebian(spec) {
            return try DebianToolchain.ensure(lockPath: try requireLock(lockPath, spec), outDir: out, mode: LockMode.resolve.honouringEnvironment())
        }
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: spec, isDirectory: &isDir), isDir.boolValue {
            let abs = spec.hasPrefix("/") ? spec : FileManager.default.currentDirectoryPath + "/" + spec
            let tc = Toolchain(name: (abs as NSString).lastPathComponent, rootPath: abs)
            try tc.validate()
            return tc
        }
        throw KilnMessage("--toolchain \(spec): expected `host` or an existing root directory")
    }

    /// The lock of `--toolchain debian`, or an error saying none was given.
    public static func requireLock(_ lockPath: String?, _ spec: String) throws -> String {
        guard let lockPath else {
            throw KilnMessage("--toolchain \(spec): no toolchain lock given (kiln's is \(DebianToolchain.defaultLockPath) in the repository)")
        }
        return lockPath
    }
}
