import Foundation
import KilnAPK
import KilnBuild
import KilnCore
import KilnFIPS

/// What packaging a build needs, passed explicitly instead of read from the working directory.
public struct PackagingContext {
    /// Signs every package.
    public var signer: APKSigner
    /// The purl namespace / distro qualifier (`pkg:apk/<distro>/...`).
    public var distro: String
    /// The SBOM supplier (nil: NOASSERTION).
    public var supplier: String?

    /// A context.
    public init(signer: APKSigner, distro: String, supplier: String?) {
        self.signer = signer; self.distro = distro; self.supplier = supplier
    }
}

/// The build → package step shared by `kiln build`, the nightly's recipe nodes and `kiln repro`'s
/// rebuild: one implementation, so a rebuilt package cannot differ because a call site drifted.
public enum PackageStage {
    /// Every package tree holding `usr/lib/ossl-modules/fips.so` gets `usr/share/kiln/fips-module.json`
    /// — the module identity and its label (`validated` only for a registry-listed tarball with an
    /// active certificate on the build date, else `fips-capable`). Runs before packaging (also with
    /// `--no-package`). `registryPath` is the registry file (the CLI resolves `--fips-registry`); a
    /// provider tree with no registry given is an error, never a guess relative to the working directory.
    public static func stampFIPSModules(_ result: BuildResult, registryPath: String?,
                                        progress: KilnCore.Progress = .shared) throws {
        let trees = result.packages.filter {
            FileManager.default.fileExists(atPath: "\($0.tree)/\(FIPSModuleIdentity.modulePath)")
        }
        guard let first = trees.first else { return }
        guard let registryPath else {
            throw KilnMessage("\(first.name): the tree holds \(FIPSModuleIdentity.modulePath) but no FIPS module registry was given "
                              + "to label it; pass --fips-registry FILE (kiln's is \(FIPSModuleRegistry.defaultPath))")
        }
        let registry = try FIPSModuleRegistry.load(path: registryPath)
        for p in trees {
            if let id = try FIPSModuleStamper.stamp(packageRoot: p.tree, package: p.name, version: p.version,
                                                    sources: result.sources.map { ($0.uri, $0.sha256) },
                                                    buildEpoch: result.sourceDateEpoch, registry: registry) {
                progress.log("kiln: \(p.name): FIPS module \(id.name) \(id.version) is \(id.label.rawValue) — \(id.reason)")
            }
        }
    }

    /// Writes every package of `result` as a signed `.apk` into `<repository>/<arch>/` (each file
    /// complete before the next), in build order; the index is the caller's (it may batch).
    public static func writePackages(_ result: BuildResult, repository: String,
                                     context: PackagingContext) throws -> [(metadata: PackageMetadata, output: APKWriter.Output)] {
        // A resumed build ran its first steps in an earlier, failed build: never publish it as a normal one.
        if result.resumed == true {
            throw KilnMessage("\(result.recipe): \(result.package.name) was built by `kiln build --resume`; its trees are not packaged — rebuild it clean (without --resume) to publish it")
        }
        return try result.packages.map { m in
            let spec = try PackageSpec(m, result: result, distro: context.distro, supplier: context.supplier)
            return (m, try APKWriter.write(spec: spec, root: m.tree, repository: repository, signer: context.signer))
        }
    }
}
