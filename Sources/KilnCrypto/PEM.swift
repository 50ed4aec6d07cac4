import COpenSSL
import Foundation

/// PEM/DER encoding and decoding of EVP_PKEYs with OSSL_ENCODER/OSSL_DECODER in kiln's library context.
enum PEMCodec {
    /// PBKDF2-HMAC-SHA256 iterations for encrypted private keys; 16-byte salt (FIPS lower bounds: 1000 / 16).
    static let pbkdf2Iterations: Int32 = 600_000

    /// Runs `body` with a memory BIO and returns what it wrote.
    static func withMemoryBIO(_ what: String, _ body: (OpaquePointer) -> Bool) throws -> Data {
        guard let bio = BIO_new(BIO_s_mem()) else { throw CryptoError.fromQueue("BIO_new") }
        defer { BIO_free(bio) }
        guard body(bio) else { throw CryptoError.fromQueue(what) }
        var p: UnsafeMutablePointer<CChar>?
        let n = kiln_bio_mem_data(bio, &p)
        guard n > 0, let p else { throw CryptoError.fromQueue(what) }
        return Data(bytes: p, count: n)
    }

    /// Encodes with OSSL_ENCODER (`format` "PEM"/"DER", `structure` "PrivateKeyInfo"/"SubjectPublicKeyInfo").
    /// (`format` and `structure` are StaticStrings: OpenSSL keeps these pointers, not copies.)
    static func encode(_ pkey: OpaquePointer, selection: Int32, format: StaticString, structure: StaticString) throws -> Data {
        try withMemoryBIO("encoding a key as \(format) \(structure)") { bio in
            guard let ectx = OSSL_ENCODER_CTX_new_for_pkey(pkey, selection, cString(format), cString(structure), nil) else { return false }
            defer { OSSL_ENCODER_CTX_free(ectx) }
            return OSSL_ENCODER_CTX_get_num_encoders(ectx) > 0 && OSSL_ENCODER_to_bio(ectx, bio) == 1
        }
    }

    /// PKCS#8 EncryptedPrivateKeyInfo PEM: PBES2, PBKDF2-HMAC-SHA256 (16-byte salt), AES-256-CBC —
    /// all fetched from kiln's library context (the FIPS provider in FIPS mode).
    static func encryptedPrivateKeyPEM(_ pkey: OpaquePointer, password: String) throws -> Data {
        let ctx = CryptoProvider.context
        guard let p8 = EVP_PKEY2PKCS8(pkey) else { throw CryptoError.fromQueue("converting the key to PKCS#8") }
        defer { PKCS8_PRIV_KEY_INFO_free(p8) }
        guard let cipher = EVP_CIPHER_fetch(ctx, "AES-256-CBC", nil) else { throw CryptoError.fromQueue("fetching AES-256-CBC") }
        defer { EVP_CIPHER_free(cipher) }
        guard let alg = PKCS5_pbe2_set_iv_ex(cipher, pbkdf2Iterations, nil, 16, nil, NID_hmacWithSHA256, ctx) else {
            throw CryptoError.fromQueue("setting up PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC)")
        }
        let pw = Array(password.utf8CString.dropLast())
        guard let sig = PKCS8_set0_pbe_ex(pw, Int32(pw.count), p8, alg, ctx, nil) else {
            X509_ALGOR_free(alg)
            throw CryptoError.fromQueue("encrypting the private key (PBES2)")
        }
        defer { X509_SIG_free(sig) }
        return try withMemoryBIO("writing the encrypted PKCS#8 PEM") { PEM_write_bio_PKCS8($0, sig) == 1 }
    }

    /// Decodes a key with OSSL_DECODER; nil (with the error queue filled) when it does not parse.
    static func decode(_ data: Data, format: StaticString, structure: StaticString?, selection: Int32,
                       password: String?) -> OpaquePointer? {
        var pkey: OpaquePointer?
        guard let dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, cString(format), structure.map(cString), nil, selection,
                                                       CryptoProvider.context, nil) else { return nil }
        defer { OSSL_DECODER_CTX_free(dctx) }
        if let password {
            let pw = Array(password.utf8)
            _ = OSSL_DECODER_CTX_set_passphrase(dctx, pw, pw.count)
        }
        let ok = data.withUnsafeBytes { raw -> Bool in
            guard let base = raw.bindMemory(to: UInt8.self).baseAddress else { return false }
            var p: UnsafePointer<UInt8>? = base
            var len = raw.count
            return OSSL_DECODER_from_data(dctx, &p, &len) == 1
        }
        guard ok else { EVP_PKEY_free(pkey); return nil }   // EVP_PKEY_free(NULL) is a no-op
        return pkey
    }
}

/// A C string that lives forever — for OpenSSL APIs that keep the pointer (encoder/decoder types,
/// OSSL_PARAM keys). A Swift String passed as `const char *` is only valid during the call.
func cString(_ s: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
}
