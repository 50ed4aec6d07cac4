import Foundation
import KilnBuild
import KilnCore
import KilnFIPS

/// After a build (`kiln build`, `kiln nightly`, and `kiln repro`'s rebuild — the same step everywhere,
/// or the rebuilt package would differ): every package tree holding `usr/lib/ossl-modules/fips.so` gets
/// `usr/share/kiln/fips-module.json` — the module identity and its label (`validated` only for a
/// registry-listed tarball with an active certificate on the build date, else `fips-capable`).
func stampFIPSModules(_ result: BuildResult, progress: KilnCore.Progress = .shared) throws {
    let trees = result.packages.filter {
        FileManager.default.fileExists(atPath: "\($0.tree)/\(FIPSModuleIdentity.modulePath)")
    }
    guard !trees.isEmpty else { return }
    let registry = try FIPSModuleRegistry.load(path: FIPSModuleRegistry.defaultPath)
    for p in trees {
        if let id = try FIPSModuleStamper.stamp(packageRoot: p.tree, package: p.name, version: p.version,
                                                sources: result.sources.map { ($0.uri, $0.sha256) },
                                                buildEpoch: result.sourceDateEpoch, registry: registry) {
            progress.log("kiln: \(p.name): FIPS module \(id.name) \(id.version) is \(id.label.rawValue) — \(id.reason)")
        }
    }
}

/// `--variant fips` needs a build root where kiln's OpenSSL is the only OpenSSL: the host toolchain
/// (the host's /usr with its libssl-dev) or any root holding OpenSSL headers/libraries is refused.
func checkFIPSVariantToolchain(_ variant: String?, _ tc: Toolchain) throws {
    guard variant == "fips" else { return }
    if tc.isHost {
        throw KilnMessage("--variant fips cannot use --toolchain host: the host's OpenSSL headers and libraries would be visible to the build. Use --toolchain debian (make toolchain).")
    }
    let found = DebianToolchain.openSSLFiles(root: tc.rootPath)
    guard found.isEmpty else {
        throw KilnMessage("--variant fips: toolchain root \(tc.rootPath) contains OpenSSL files (\(found.prefix(3).joined(separator: ", "))); only kiln's own OpenSSL packages may be visible to a FIPS build")
    }
}
