import ArgumentParser
import Foundation
import KilnCore
import KilnCrypto

struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Generate a signing key pair (RSA → NAME.rsa + NAME.rsa.pub, ECDSA P-256 → NAME.key + NAME.pub).",
        discussion: """
            The private key is PKCS#8 PEM, mode 0600; when KILN_KEY_PASSWORD is set it is encrypted \
            (PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC). The public key is SubjectPublicKeyInfo PEM \
            (NAME.pub is what cosign calls cosign.pub).
            """)

    enum Kind: String, ExpressibleByArgument, CaseIterable { case rsa, ecdsa }

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Output path without extension, e.g. keys/kiln-dev.")
    var out: String

    @Option(name: .long, help: "Key type: rsa or ecdsa (P-256).")
    var type: Kind = .rsa

    @Option(name: .long, help: "RSA key size, 2048 to 4096 (default 4096).")
    var bits: Int?

    @Flag(name: .long, help: "Replace existing key files.")
    var force = false

    func run() throws {
        try global.activate()
        let keyType: KeyType
        switch type {
        case .rsa: keyType = .rsa(bits: bits ?? 4096)
        case .ecdsa:
            if let bits, bits != 256 { throw KilnMessage("--bits \(bits) does not apply to ecdsa keys (always P-256)") }
            keyType = .ecdsaP256
        }
        let paths = KeygenCommand.paths(out: out, type: type)
        if !force, let existing = [paths.private, paths.public].first(where: { FileManager.default.fileExists(atPath: $0) }) {
            throw KilnMessage("\(existing) already exists; use --force to replace it")
        }
        let key = try PrivateKey.generate(keyType)
        let password = PrivateKey.environmentPassword
        try key.save(to: paths.private, password: password)
        try AtomicFile.write(try key.publicKey.pem(), to: paths.public, mode: 0o644)
        print("\(paths.private)  (\(keyType) private key\(password == nil ? "" : ", encrypted"), mode 0600)")
        print("\(paths.public)  (public key)")
    }

    /// keys/NAME → (keys/NAME.rsa, keys/NAME.rsa.pub) or (keys/NAME.key, keys/NAME.pub).
    static func paths(out: String, type: Kind) -> (private: String, public: String) {
        switch type {
        case .rsa:
            let base = out.hasSuffix(".rsa") ? out : out + ".rsa"
            return (base, base + ".pub")
        case .ecdsa:
            let base = out.hasSuffix(".key") ? String(out.dropLast(4)) : out
            return (base + ".key", base + ".pub")
        }
    }
}
