import ArgumentParser
import Foundation
import KilnAPK
import KilnCore

/// `kiln apk verify|info`: check and show APK v2 packages (and APKINDEX.tar.gz files).
struct ApkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apk",
        abstract: "Verify APK packages and indexes, or show their metadata.",
        subcommands: [ApkVerifyCommand.self, ApkInfoCommand.self, ApkExtractCommand.self])
}

/// Trusted keys from the command line: --key files and --keyring directories; with neither,
/// the repository's `keys/` directory when it exists.
struct KeyringOptions: ParsableArguments {
    @Option(name: .long, help: "Trusted public key file (repeatable); its file name is the key name, e.g. kiln-dev.rsa.pub.")
    var key: [String] = []

    @Option(name: .long, help: "Directory of trusted public keys, named as in the signatures (default: ./keys if present).")
    var keyring: [String] = []

    @Flag(name: .long, help: "Accept packages whose signing key is not trusted (hashes are still checked).")
    var allowUntrusted = false

    func load() throws -> APKKeyring { try APKKeyring(files: key, directories: keyring, defaultDirectory: "keys") }
}

struct ApkVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify .apk files (structure, signature, data hash, per-file checksums) and APKINDEX.tar.gz files (signature, records).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var keys: KeyringOptions

    @Argument(help: "Files to verify (.apk or APKINDEX.tar.gz).")
    var files: [String]

    func run() throws {
        let ring = try keys.load()
        let opts = APKVerifyOptions(keyring: ring, allowUntrusted: keys.allowUntrusted)
        var failed = 0
        for f in files {
            do {
                if URL(fileURLWithPath: f).lastPathComponent.hasPrefix("APKINDEX") {
                    let idx = try APKIndex.read(path: f, options: opts)
                    print("\(f): OK: index with \(idx.records.count) packages, signed by \(idx.trustedKey ?? "an untrusted key")")
                } else {
                    let p = try APKReader.read(path: f, options: opts)
                    print("\(f): OK: \(p.info.pkgname)-\(p.info.pkgver) \(p.checksum), signed by \(p.trustedKey ?? "an untrusted key"), \(p.entries.count) entries")
                }
            } catch let e as KilnError {
                failed += 1
                FileHandle.standardError.write(Data("kiln: error: \(e.description)\n".utf8))
            }
        }
        if failed > 0 { throw ExitStatus(code: 1, message: "\(failed) of \(files.count) files failed verification") }
    }
}

struct ApkInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show a package's metadata (.PKGINFO, checksums, signatures, files).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var keys: KeyringOptions

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @Flag(name: .long, help: "List the files.")
    var files = false

    @Argument(help: "The .apk file.")
    var file: String

    func run() throws {
        // info shows untrusted packages too (it says so); verify is the strict command.
        let p = try APKReader.read(path: file, options: APKVerifyOptions(keyring: try keys.load(), allowUntrusted: true))
        let report = APKPackageReport(p, file: file)
        if json { return print(try report.json()) }
        for line in report.lines(listFiles: files) { print(line) }
    }
}
