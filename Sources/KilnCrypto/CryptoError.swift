import COpenSSL
import Foundation
import KilnCore

/// Every failure of kiln's crypto layer: one line naming the file or algorithm and what to do.
public enum CryptoError: KilnError, Equatable {
    /// An OpenSSL call failed; `detail` is OpenSSL's own reason.
    case openssl(operation: String, detail: String)
    /// kiln does not support this algorithm / key type at all.
    case unsupported(algorithm: String, reason: String)
    /// Refused because FIPS mode is on and the algorithm is not FIPS-approved for this use.
    case notApproved(algorithm: String, reason: String)
    /// A key file that cannot be read or parsed.
    case badKey(source: String, problem: String)
    /// The key is encrypted and no password was given.
    case passwordRequired(source: String)
    /// Decryption failed: wrong password (or a damaged encrypted key).
    case wrongPassword(source: String)
    /// cosign's scrypt + secretbox key format.
    case cosignKeyFormat(source: String)
    /// The FIPS provider is missing or failed its self-test.
    case fipsUnavailable(detail: String)
    /// A file could not be read or written.
    case io(path: String, detail: String)

    public var description: String {
        switch self {
        case let .openssl(op, detail):
            return "OpenSSL: \(op) failed: \(detail)"
        case let .unsupported(alg, reason):
            return "unsupported algorithm \(alg): \(reason)"
        case let .notApproved(alg, reason):
            // kiln applies the FIPS algorithm rules in every mode; say "FIPS mode" only when it is on.
            return CryptoProvider.isFIPS ? "\(alg) is not allowed in FIPS mode: \(reason)"
                : "\(alg) is refused: \(reason) (kiln accepts only FIPS-approved algorithms and key sizes, in every mode)"
        case let .badKey(source, problem):
            return "\(source): \(problem)"
        case let .passwordRequired(source):
            return "\(source): the private key is encrypted; set KILN_KEY_PASSWORD to its password"
        case let .wrongPassword(source):
            return "\(source): cannot decrypt the private key: wrong password (check KILN_KEY_PASSWORD) or damaged key"
        case let .cosignKeyFormat(source):
            return "\(source): cosign's encrypted key format (scrypt + secretbox) is not FIPS-approved and kiln does not read it; "
                + "use a PKCS#8 key, e.g. `kiln keygen --type ecdsa --out keys/NAME` (encrypted when KILN_KEY_PASSWORD is set)"
        case let .fipsUnavailable(detail):
            return "FIPS mode: \(detail)"
        case let .io(path, detail):
            return "\(path): \(detail)"
        }
    }

    /// Drains OpenSSL's thread error queue into one short line (oldest reason first).
    static func drainErrors() -> String {
        var reasons: [String] = []
        while true {
            let e = ERR_get_error()
            if e == 0 { break }
            var buf = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(e, &buf, buf.count)
            let s = String(cString: buf)
            if !reasons.contains(s) { reasons.append(s) }
        }
        return reasons.isEmpty ? "no detail from OpenSSL" : reasons.prefix(3).joined(separator: "; ")
    }

    /// An `.openssl` error with the current error queue as detail.
    static func fromQueue(_ operation: String) -> CryptoError {
        .openssl(operation: operation, detail: drainErrors())
    }
}
