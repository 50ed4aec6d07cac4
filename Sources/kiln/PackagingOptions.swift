import ArgumentParser
import Foundation
import KilnAPK
import KilnCore
import KilnPipeline

/// The key that signs packages and what their purls and SBOMs say: `kiln build`, `kiln nightly`, `kiln repro`.
struct PackageSigningOptions: ParsableArguments {
    @Option(name: .long, help: "RSA key that signs packages and the index; the default development key is created (as `make keys` does) when it is missing.")
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

extension PackagingOptions {
    /// The pipeline's packaging settings (the repository defaults to `<out>/packages`).
    func pipelinePackaging(out: String) -> BuildPipelineRequest.Packaging {
        .init(repository: repository ?? "\(out)/packages", signingKey: signingKey,
              createKeyIfMissing: signingKey == PackageSigningOptions.defaultSigningKey, distro: distro, supplier: supplier)
    }
}
