import Foundation
import KilnCore
import COpenSSL

/// SHA-256 for input keys and output digests. Temporary: OpenSSL EVP directly until KilnCrypto lands.
enum NightlyHash {
    static func sha256Hex(_ data: Data) -> String {
        let ctx = EVP_MD_CTX_new()!
        defer { EVP_MD_CTX_free(ctx) }
        EVP_DigestInit_ex(ctx, EVP_sha256(), nil)
        data.withUnsafeBytes { _ = EVP_DigestUpdate(ctx, $0.baseAddress, $0.count) }
        var out = [UInt8](repeating: 0, count: 32); var n: UInt32 = 0
        EVP_DigestFinal_ex(ctx, &out, &n)
        return out.map { String(format: "%02x", $0) }.joined()
    }
}
