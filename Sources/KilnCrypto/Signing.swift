import COpenSSL
import Foundation

/// RSA PKCS#1 v1.5 and ECDSA (DER) signatures with EVP_DigestSign*/EVP_DigestVerify* in kiln's
/// library context. SHA-1 may only verify (legacy formats); signing with it is always refused.
extension PrivateKey {
    public func sign(_ data: Data, digest: DigestAlgorithm = .sha256) throws -> [UInt8] {
        if digest == .sha1 {
            let alg = "\(type.algorithmFamily)-SHA1"
            if CryptoProvider.isFIPS {
                throw CryptoError.notApproved(algorithm: alg, reason: "SHA-1 signatures are not approved; sign with SHA-256")
            }
            throw CryptoError.unsupported(algorithm: alg, reason: "kiln uses SHA-1 only to verify legacy signatures; sign with SHA-256")
        }
        guard case let .rsa(bits) = type, bits < 2048 else { return try digestSign(data, digest) }
        throw CryptoError.notApproved(algorithm: "RSA-\(bits)", reason: "signing needs an RSA key of at least 2048 bits")
    }

    private func digestSign(_ data: Data, _ digest: DigestAlgorithm) throws -> [UInt8] {
        guard let mctx = EVP_MD_CTX_new() else { throw CryptoError.fromQueue("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(mctx) }
        var pctx: OpaquePointer?
        let what = "\(type.algorithmFamily)-\(digest.opensslName) signing"
        guard EVP_DigestSignInit_ex(mctx, &pctx, digest.opensslName, CryptoProvider.context, nil, pkey, nil) == 1 else {
            throw CryptoError.fromQueue("starting \(what)")
        }
        if case .rsa = type, EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1 {
            throw CryptoError.fromQueue("selecting PKCS#1 v1.5 padding")
        }
        return try data.withUnsafeBytes { raw -> [UInt8] in
            let p = raw.bindMemory(to: UInt8.self).baseAddress
            var len = 0
            guard EVP_DigestSign(mctx, nil, &len, p, raw.count) == 1 else { throw CryptoError.fromQueue(what) }
            var sig = [UInt8](repeating: 0, count: len)
            guard EVP_DigestSign(mctx, &sig, &len, p, raw.count) == 1 else { throw CryptoError.fromQueue(what) }
            return Array(sig.prefix(len))
        }
    }
}

extension PublicKey {
    /// True when `signature` is valid for `data`; false for a wrong or malformed signature.
    /// Throws when the algorithm cannot be used at all (e.g. refused in FIPS mode).
    public func verify(signature: [UInt8], data: Data, digest: DigestAlgorithm = .sha256) throws -> Bool {
        guard let mctx = EVP_MD_CTX_new() else { throw CryptoError.fromQueue("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(mctx) }
        var pctx: OpaquePointer?
        let what = "\(type.algorithmFamily)-\(digest.opensslName) verification"
        guard EVP_DigestVerifyInit_ex(mctx, &pctx, digest.opensslName, CryptoProvider.context, nil, pkey, nil) == 1 else {
            let detail = CryptoError.drainErrors()
            if CryptoProvider.isFIPS { throw CryptoError.notApproved(algorithm: "\(type)-\(digest.opensslName)", reason: detail) }
            throw CryptoError.openssl(operation: "starting \(what)", detail: detail)
        }
        if case .rsa = type, EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1 {
            throw CryptoError.fromQueue("selecting PKCS#1 v1.5 padding")
        }
        let r = data.withUnsafeBytes { raw in
            EVP_DigestVerify(mctx, signature, signature.count, raw.bindMemory(to: UInt8.self).baseAddress, raw.count)
        }
        ERR_clear_error()
        return r == 1
    }
}

extension KeyType {
    /// "RSA" or "ECDSA".
    var algorithmFamily: String {
        switch self { case .rsa: "RSA"; case .ecdsaP256: "ECDSA" }
    }
}
