import COpenSSL
import Foundation

/// HMAC through OpenSSL's EVP_MAC in kiln's library context (the FIPS provider in FIPS mode).
/// Used by the boundary audit to recompute a FIPS module's `module-mac` without loading the module.
public enum HMAC {
    /// HMAC-`algorithm` of `data` under `key`.
    public static func mac(_ algorithm: DigestAlgorithm, key: [UInt8], data: Data) throws -> [UInt8] {
        guard let mac = EVP_MAC_fetch(CryptoProvider.context, "HMAC", nil) else {
            throw CryptoError.openssl(operation: "fetching HMAC", detail: CryptoError.drainErrors())
        }
        defer { EVP_MAC_free(mac) }
        guard let ctx = EVP_MAC_CTX_new(mac) else { throw CryptoError.fromQueue("EVP_MAC_CTX_new") }
        defer { EVP_MAC_CTX_free(ctx) }
        var name = Array(algorithm.opensslName.utf8CString)
        let ok: Int32 = name.withUnsafeMutableBufferPointer { nb in
            "digest".withCString { k in
                var params = [OSSL_PARAM_construct_utf8_string(k, nb.baseAddress, 0), OSSL_PARAM_construct_end()]
                return key.withUnsafeBufferPointer { kb in EVP_MAC_init(ctx, kb.baseAddress, kb.count, &params) }
            }
        }
        guard ok == 1 else { throw CryptoError.fromQueue("starting HMAC-\(algorithm.opensslName)") }
        let updated: Int32 = data.withUnsafeBytes { b in
            guard let p = b.baseAddress, b.count > 0 else { return 1 }
            return EVP_MAC_update(ctx, p.assumingMemoryBound(to: UInt8.self), b.count)
        }
        guard updated == 1 else { throw CryptoError.fromQueue("HMAC update") }
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var len = 0
        guard EVP_MAC_final(ctx, &out, &len, out.count) == 1 else { throw CryptoError.fromQueue("finishing HMAC-\(algorithm.opensslName)") }
        return Array(out.prefix(len))
    }
}
