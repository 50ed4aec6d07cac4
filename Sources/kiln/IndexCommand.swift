import ArgumentParser
import Foundation
import KilnAPK
import KilnCore

/// `kiln index <repo>/<arch>`: (re)write the signed APKINDEX.tar.gz of a repository directory.
struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Write a signed APKINDEX.tar.gz for the .apk files in each repository directory (<repo>/<arch>).")

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "RSA private key that signs the index (default: keys/kiln-dev.rsa, made by `make keys`).")
    var signingKey: String = "keys/kiln-dev.rsa"

    @Option(name: .long, help: "Text for the index's DESCRIPTION entry.")
    var description: String?

    @Option(name: .long, help: "Also check each package's signature against this public key (repeatable).")
    var key: [String] = []

    @Argument(help: "Repository directories (<repo>/<arch>).")
    var directories: [String]

    func run() throws {
        let signer = try APKSigner.load(path: signingKey)
        var ring = APKKeyring()
        for k in key { try ring.add(path: k) }
        for d in directories {
            let r = try APKRepository.updateIndex(directory: d, signer: signer, keyring: ring, description: description)
            print("\(r.indexPath): \(r.records.count) packages, signed with \(signer.signatureEntryName)")
        }
    }
}
