import COpenSSL
import Foundation

/// Key types kiln generates, loads and signs with.
public enum KeyType: Equatable, Sendable, CustomStringConvertible {
    case rsa(bits: Int)
    case ecdsaP256

    /// RSA 4096, kiln's default RSA key.
    public static let defaultRSA = KeyType.rsa(bits: 4096)
    /// RSA sizes kiln generates.
    public static let rsaBits = 2048...4096

    public var description: String {
        switch self { case let .rsa(bits): "RSA-\(bits)"; case .ecdsaP256: "ECDSA-P256" }
    }

    /// The type of an EVP_PKEY, or an error naming what it is.
    init(of pkey: OpaquePointer, source: String) throws {
        if EVP_PKEY_is_a(pkey, "RSA") == 1 {
            self = .rsa(bits: Int(EVP_PKEY_get_bits(pkey)))
        } else if EVP_PKEY_is_a(pkey, "EC") == 1 {
            var buf = [CChar](repeating: 0, count: 64)
            var len = 0
            let group = EVP_PKEY_get_group_name(pkey, &buf, buf.count, &len) == 1 ? String(cString: buf) : "?"
            guard ["prime256v1", "P-256", "secp256r1"].contains(group) else {
                throw CryptoError.unsupported(algorithm: "ECDSA curve \(group)", reason: "\(source): kiln supports ECDSA on P-256 only")
            }
            self = .ecdsaP256
        } else {
            let name = EVP_PKEY_get0_type_name(pkey).map { String(cString: $0) } ?? "unknown"
            if CryptoProvider.isFIPS, ["ED25519", "ED448", "X25519", "X448"].contains(name.uppercased()) {
                throw CryptoError.notApproved(algorithm: name, reason: "\(source): use RSA (>= 2048 bits) or ECDSA P-256")
            }
            throw CryptoError.unsupported(algorithm: name, reason: "\(source): kiln supports RSA and ECDSA P-256 keys")
        }
        if case let .rsa(bits) = self, bits < 2048, CryptoProvider.isFIPS {
            throw CryptoError.notApproved(algorithm: "RSA-\(bits)", reason: "\(source): RSA keys must have at least 2048 bits")
        }
    }
}
