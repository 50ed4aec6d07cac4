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

    @Option(name: .long, help: "RSA private key that signs the index (make it with `make keys` or `kiln keygen`).")
    var signingKey: String = "keys/kiln-dev.rsa"

    @Option(name: .long, help: "Text for the index's DESCRIPTION entry.")
    var description: String?

    @Option(name: .long, help: "Also check each package's signature against this public key (repeatable).")
    var key: [String] = []

    @OptionGroup var keyring: KeyringOption

    @Flag(name: .long, help: "Read and check every package again (default: only packages that are new or changed since the last index).")
    var verifyAll = false

    @Argument(help: "Repository directories (<repo>/<arch>).")
    var directories: [String]

    func run() throws {
        for d in directories { try Self.checkRepositoryDirectory(d) }
        let signer = try APKSigner.load(path: signingKey)
        let trusted = keyring.split
        let ring = try APKKeyring(files: key + trusted.files, directories: trusted.directories, defaultDirectory: nil)
        for d in directories {
            let r = try APKRepository.updateIndex(directory: d, signer: signer, keyring: ring, description: description, verifyAll: verifyAll)
            print("\(r.indexPath): \(r.records.count) packages (\(r.reread.count) read and checked), signed with \(signer.signatureEntryName)")
        }
    }

    /// The directory must already exist: an index of a mistyped path would be an empty, signed index.
    static func checkRepositoryDirectory(_ d: String) throws {
        var st = stat()
        guard stat(d, &st) == 0 else {
            throw KilnMessage("\(d): no such repository directory; create it and put the .apk files in it (kiln index never makes an empty index of a missing directory)")
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            throw KilnMessage("\(d): not a directory; give a repository directory (<repo>/<arch>) holding .apk files")
        }
    }
}
