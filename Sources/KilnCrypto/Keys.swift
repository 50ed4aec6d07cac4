import COpenSSL
import Foundation
import KilnCore

/// A private key (RSA or ECDSA P-256) held by OpenSSL. PEM is PKCS#8, optionally encrypted with
/// PBES2 / PBKDF2-HMAC-SHA256 / AES-256-CBC.
public final class PrivateKey: @unchecked Sendable {   // EVP_PKEY is read-only after creation
    let pkey: OpaquePointer
    public let type: KeyType

    init(owning pkey: OpaquePointer, source: String) throws {
        do { type = try KeyType(of: pkey, source: source) } catch { EVP_PKEY_free(pkey); throw error }
        self.pkey = pkey
    }
    deinit { EVP_PKEY_free(pkey) }

    /// The password from $KILN_KEY_PASSWORD (nil when unset or empty).
    public static var environmentPassword: String? {
        let p = ProcessInfo.processInfo.environment["KILN_KEY_PASSWORD"]
        return p?.isEmpty == false ? p : nil
    }

    /// A new key: RSA with 2048...4096 bits, or ECDSA on P-256.
    public static func generate(_ type: KeyType) throws -> PrivateKey {
        let name: StaticString   // EVP_PKEY_CTX keeps the pointer
        switch type {
        case let .rsa(bits):
            guard KeyType.rsaBits.contains(bits) else {
                if CryptoProvider.isFIPS && bits < 2048 {
                    throw CryptoError.notApproved(algorithm: "RSA-\(bits)", reason: "RSA keys must have at least 2048 bits")
                }
                throw CryptoError.unsupported(algorithm: "RSA-\(bits)", reason: "kiln generates RSA keys of 2048 to 4096 bits")
            }
            name = "RSA"
        case .ecdsaP256: name = "EC"
        }
        guard let ctx = EVP_PKEY_CTX_new_from_name(CryptoProvider.context, cString(name), nil) else {
            throw CryptoError.fromQueue("setting up \(type) key generation")
        }
        defer { EVP_PKEY_CTX_free(ctx) }
        var ok = EVP_PKEY_keygen_init(ctx) == 1
        switch type {
        case let .rsa(bits): ok = ok && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, Int32(bits)) == 1
        case .ecdsaP256: ok = ok && EVP_PKEY_CTX_set_group_name(ctx, "P-256") == 1
        }
        var pkey: OpaquePointer?
        guard ok, EVP_PKEY_generate(ctx, &pkey) == 1, let pkey else {
            throw CryptoError.fromQueue("generating a \(type) key")
        }
        return try PrivateKey(owning: pkey, source: "generated key")
    }

    /// Loads a PEM private key file; `password` defaults to $KILN_KEY_PASSWORD.
    public static func load(path: String, password: String? = nil) throws -> PrivateKey {
        let data = try readKeyFile(path, "private")
        return try PrivateKey(pem: data, password: password, source: path)
    }

    /// Parses a PEM private key (PKCS#8, encrypted PKCS#8, or traditional RSA/EC PEM).
    /// `password` defaults to $KILN_KEY_PASSWORD; it is ignored for unencrypted keys.
    public convenience init(pem: Data, password: String? = nil, source: String = "<memory>") throws {
        let text = String(decoding: pem.prefix(64 * 1024), as: UTF8.self)
        if text.contains("ENCRYPTED SIGSTORE PRIVATE KEY") || text.contains("ENCRYPTED COSIGN PRIVATE KEY") {
            throw CryptoError.cosignKeyFormat(source: source)
        }
        guard text.contains("-----BEGIN "), text.contains("PRIVATE KEY-----") else {
            throw CryptoError.badKey(source: source, problem: "not a PEM private key (expected -----BEGIN PRIVATE KEY----- or -----BEGIN ENCRYPTED PRIVATE KEY-----)")
        }
        let encrypted = text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") || text.contains("Proc-Type: 4,ENCRYPTED")
        let password = password ?? PrivateKey.environmentPassword
        if encrypted && password == nil { throw CryptoError.passwordRequired(source: source) }
        ERR_clear_error()
        guard let pkey = PEMCodec.decode(pem, format: "PEM", structure: nil, selection: kiln_select_keypair(),
                                         password: encrypted ? password : nil) else {
            let detail = CryptoError.drainErrors()
            if encrypted { throw CryptoError.wrongPassword(source: source) }
            throw CryptoError.badKey(source: source, problem: "malformed private key (\(detail))")
        }
        try self.init(owning: pkey, source: source)
    }

    /// The matching public key.
    public var publicKey: PublicKey {
        get throws {
            EVP_PKEY_up_ref(pkey)   // shared; PublicKey only ever uses the public half
            return try PublicKey(owning: pkey, source: "public key of \(type) key")
        }
    }

    /// PKCS#8 PEM; encrypted (PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC) when `password` is given.
    public func pem(password: String? = nil) throws -> Data {
        if let password, !password.isEmpty {
            return try PEMCodec.encryptedPrivateKeyPEM(pkey, password: password)
        }
        return try PEMCodec.encode(pkey, selection: kiln_select_keypair(), format: "PEM", structure: "PrivateKeyInfo")
    }

    /// Writes `pem(password:)` atomically with mode 0600.
    public func save(to path: String, password: String? = nil) throws {
        let data = try pem(password: password)
        do { try AtomicFile.write(data, to: path, mode: 0o600) } catch {
            throw CryptoError.io(path: path, detail: "cannot write the private key: \(error)")
        }
    }
}

/// A public key (RSA or ECDSA P-256); PEM is SubjectPublicKeyInfo (what cosign.pub holds).
public final class PublicKey: @unchecked Sendable {
    let pkey: OpaquePointer
    public let type: KeyType

    init(owning pkey: OpaquePointer, source: String) throws {
        do { type = try KeyType(of: pkey, source: source) } catch { EVP_PKEY_free(pkey); throw error }
        self.pkey = pkey
    }
    deinit { EVP_PKEY_free(pkey) }

    public static func load(path: String) throws -> PublicKey {
        let data = try readKeyFile(path, "public")
        return try PublicKey(pem: data, source: path)
    }

    /// Parses a SubjectPublicKeyInfo PEM ("-----BEGIN PUBLIC KEY-----").
    public convenience init(pem: Data, source: String = "<memory>") throws {
        let text = String(decoding: pem.prefix(64 * 1024), as: UTF8.self)
        guard text.contains("-----BEGIN "), text.contains("PUBLIC KEY-----") else {
            throw CryptoError.badKey(source: source, problem: "not a PEM public key (expected -----BEGIN PUBLIC KEY-----)")
        }
        try self.init(encoded: pem, format: "PEM", source: source)
    }

    /// Parses a SubjectPublicKeyInfo DER.
    public convenience init(der: Data, source: String = "<memory>") throws {
        try self.init(encoded: der, format: "DER", source: source)
    }

    private convenience init(encoded: Data, format: StaticString, source: String) throws {
        ERR_clear_error()
        guard let pkey = PEMCodec.decode(encoded, format: format, structure: "SubjectPublicKeyInfo",
                                         selection: kiln_select_public_key(), password: nil) else {
            throw CryptoError.badKey(source: source, problem: "malformed public key (\(CryptoError.drainErrors()))")
        }
        try self.init(owning: pkey, source: source)
    }

    public func pem() throws -> Data {
        try PEMCodec.encode(pkey, selection: kiln_select_public_key(), format: "PEM", structure: "SubjectPublicKeyInfo")
    }

    public func der() throws -> Data {
        try PEMCodec.encode(pkey, selection: kiln_select_public_key(), format: "DER", structure: "SubjectPublicKeyInfo")
    }
}

/// "No such file or directory" rather than Foundation's long NSError text.
/// The bytes of a key file; a directory, FIFO or device is refused before it is opened (a FIFO would hang).
func readKeyFile(_ path: String, _ what: String) throws -> Data {
    var st = stat()
    if stat(path, &st) == 0, (st.st_mode & S_IFMT) != S_IFREG {
        let kind = (st.st_mode & S_IFMT) == S_IFDIR ? "a directory" : "not a regular file"
        throw CryptoError.io(path: path, detail: "cannot read the \(what) key: it is \(kind); give the path of the key file")
    }
    do { return try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
        throw CryptoError.io(path: path, detail: "cannot read the \(what) key: \(posixReason(error))")
    }
}

func posixReason(_ error: Error) -> String {
    let ns = error as NSError
    if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
        return String(cString: strerror(Int32(underlying.code)))
    }
    if ns.domain == NSCocoaErrorDomain, ns.code == NSFileReadNoSuchFileError { return "No such file or directory" }
    return ns.localizedDescription
}
