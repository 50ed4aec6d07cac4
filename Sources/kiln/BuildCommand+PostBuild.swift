import ArgumentParser
import Foundation
import KilnAPK
import KilnBuild
import KilnCore
import KilnCrypto
import KilnPipeline

/// The key that signs packages and what their purls and SBOMs say: `kiln build`, `kiln nightly`, `kiln repro`.
struct PackageSigningOptions: ParsableArguments {
    @Option(name: .long, help: "RSA key that signs packages and the index (default: keys/kiln-dev.rsa; created like `make keys` does when missing).")
    var signingKey: String = PackageSigningOptions.defaultSigningKey

    @Option(name: .long, help: "Distribution name for the packages' purls (pkg:apk/<distro>/...).")
    var distro: String = "kiln"

    @Option(name: .long, help: "SBOM supplier, e.g. \"Example Corp\" (default: NOASSERTION).")
    var supplier: String?

    static let defaultSigningKey = "keys/kiln-dev.rsa"

    /// The signer; the default development key is created (as `make keys` does) when it is missing.
    func signer() throws -> APKSigner {
        signingKey == Self.defaultSigningKey ? try DevelopmentKey.signer(at: signingKey) : try APKSigner.load(path: signingKey)
    }
}

/// `kiln build` / `kiln nightly` packaging options: where the repository is and which key signs it.
struct PackagingOptions: ParsableArguments {
    @Option(name: .long, help: "APK repository the packages go to (<repository>/<arch>/*.apk + APKINDEX.tar.gz; default: <out>/packages).")
    var repository: String?

    @OptionGroup var signing: PackageSigningOptions

    @Flag(name: .long, help: "Only build the trees; write no packages and no index.")
    var noPackage = false

    var signingKey: String { signing.signingKey }
    var distro: String { signing.distro }
    var supplier: String? { signing.supplier }
    func signer() throws -> APKSigner { try signing.signer() }

    /// The packaging context for `signer`.
    func context(signer: APKSigner) -> PackagingContext {
        PackagingContext(signer: signer, distro: distro, supplier: supplier)
    }
}

extension BuildCommand {
    /// Runs after each recipe's trees have landed: packages every tree as a signed .apk in
    /// `<repository>/<arch>/`, then rewrites that directory's signed APKINDEX.tar.gz. Each package
    /// file is complete (renamed into place) before the index names it.
    func afterBuild(_ result: BuildResult) throws {
        try PackageStage.stampFIPSModules(result)   // first: the identity file must be in the tree before packaging
        guard !packaging.noPackage else { return }
        let signer = try packaging.signer()
        let repo = packaging.repository ?? "\(location.out)/packages"
        for (_, out) in try PackageStage.writePackages(result, repository: repo, context: packaging.context(signer: signer)) {
            Progress.shared.log("packaged \(out.path) (\(out.checksum))")
        }
        let idx = try APKRepository.updateIndex(directory: "\(repo)/\(result.arch)", signer: signer)
        Progress.shared.log("indexed \(idx.indexPath): \(idx.records.count) packages")
    }
}

extension PackagingOptions {
    /// The installer for build-time packages (nil with --no-package).
    func installer(out: String) throws -> APKBuildInstaller? {
        guard !noPackage else { return nil }
        return try APKBuildInstaller(repository: repository ?? "\(out)/packages", signer: try signer())
    }
}
