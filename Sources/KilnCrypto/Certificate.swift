import COpenSSL
import Foundation
import KilnCore

/// X.509 certificates in PEM (apko's `certificates.additional` entries): each block decoded with
/// OpenSSL's d2i_X509, which must consume the whole DER — a block that is not one certificate is refused.
public enum CertificatePEM {
    /// The DER of each `CERTIFICATE` block in `text`, each checked to be exactly one X.509 certificate.
    public static func certificates(in text: String) throws -> [Data] {
        var out: [Data] = []
        var rest = Substring(text)
        while let begin = rest.range(of: "-----BEGIN CERTIFICATE-----") {
            guard let end = rest[begin.upperBound...].range(of: "-----END CERTIFICATE-----") else {
                throw KilnMessage("a certificate has no -----END CERTIFICATE----- line")
            }
            let body = rest[begin.upperBound..<end.lowerBound].filter { !$0.isWhitespace }
            guard let der = Data(base64Encoded: String(body)), !der.isEmpty else {
                throw KilnMessage("a certificate's base64 does not decode")
            }
            let ok: Bool = der.withUnsafeBytes { raw in
                guard let base = raw.bindMemory(to: UInt8.self).baseAddress else { return false }
                var p: UnsafePointer<UInt8>? = base
                guard let cert = d2i_X509(nil, &p, raw.count) else { return false }
                X509_free(cert)
                return p == base + raw.count
            }
            guard ok else { throw KilnMessage("a PEM block is not an X.509 certificate") }
            out.append(der)
            rest = rest[end.upperBound...]
        }
        return out
    }
}
