import Foundation
import KilnCrypto

/// Trusted public keys by key name, the way apk looks them up: the signature member
/// `.SIGN.RSA256.<keyname>` is checked with `<keys dir>/<keyname>` (e.g. `kiln-dev.rsa.pub`).
public struct APKKeyring {
    /// Parsed keys by key name.
    public private(set) var keys: [String: PublicKey] = [:]
    /// The PEM bytes of each key, as read (images install them under `/etc/apk/keys/`).
    public private(set) var pems: [String: Data] = [:]

    public init() {}

    /// Every regular file in `directory` that parses as a PEM public key (others are skipped).
    public init(directory: String) throws {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
            throw APKError.key("cannot read keyring directory \(directory)")
        }
        for n in names.sorted() where !n.hasPrefix(".") {
            let path = directory + "/" + n
            if let k = try? PublicKey.load(path: path) { keys[n] = k; pems[n] = FileManager.default.contents(atPath: path) }
        }
    }

    /// Adds the public key file at `path` under its basename (`keys/kiln-dev.rsa.pub` → `kiln-dev.rsa.pub`).
    public mutating func add(path: String) throws {
        let k = try PublicKey.load(path: path)
        let name = URL(fileURLWithPath: path).lastPathComponent
        keys[name] = k
        pems[name] = FileManager.default.contents(atPath: path)
    }

    public mutating func add(name: String, key: PublicKey) { keys[name] = key }

    public var isEmpty: Bool { keys.isEmpty }
}

/// A private key with the name its signatures carry: `.SIGN.RSA256.<basename(private key)>.pub`.
public struct APKSigner {
    public let key: PrivateKey
    /// The key name users put in their keyring, e.g. `kiln-dev.rsa.pub`.
    public let keyName: String

    public init(key: PrivateKey, keyName: String) throws {
        guard case .rsa = key.type else {
            throw APKError.key("APK signatures need an RSA key, but \(keyName) is \(key.type) (create one with `kiln keygen --type rsa`)")
        }
        self.key = key
        self.keyName = keyName
    }

    /// Loads the private key at `path`; the key name is `<basename>.pub`.
    public static func load(path: String) throws -> APKSigner {
        guard FileManager.default.fileExists(atPath: path) else {
            throw APKError.key("signing key \(path) does not exist (run `make keys`, or pass --signing-key)")
        }
        let k = try PrivateKey.load(path: path)
        return try APKSigner(key: k, keyName: URL(fileURLWithPath: path).lastPathComponent + ".pub")
    }

    /// The signature member name: `.SIGN.RSA256.<keyName>`.
    public var signatureEntryName: String { ".SIGN.RSA256.\(keyName)" }
}
