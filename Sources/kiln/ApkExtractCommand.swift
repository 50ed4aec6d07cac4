import ArgumentParser
import Foundation
import KilnAPK
import KilnCore

/// `kiln apk extract`: a verified package's files into a directory (e.g. the FIPS provider the
/// catalog built, for `kiln --fips` in `make demo`).
struct ApkExtractCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Verify an .apk and write its files into a directory (no scripts run, nothing outside the directory).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var keys: KeyringOptions

    @Option(name: .long, help: "Directory to write the package's files into (created if needed).")
    var out: String

    @Argument(help: "The .apk file.")
    var file: String

    func run() throws {
        let ring = try keys.load()
        let pkg = try APKInstall.extract(path: file, options: APKVerifyOptions(keyring: ring, allowUntrusted: keys.allowUntrusted), to: out)
        print("extracted \(pkg.info.pkgname)-\(pkg.info.pkgver) (\(pkg.entries.count) entries, signed by \(pkg.trustedKey ?? "an untrusted key")) into \(out)")
    }
}
