import COpenSSL
import Foundation
import KilnCore

/// X.509 certificates made with kiln's own crypto (OpenSSL in kiln's library context): a private CA
/// and server certificates it issues, for registries on loopback (tests, `make demo`). ECDSA P-256
/// keys, SHA-256 signatures.
public enum Certificates {
    /// A self-signed CA certificate (PEM) for `key`, valid for `days` from now.
    public static func makeCA(commonName: String, key: PrivateKey, days: Int = 30) throws -> Data {
        try build(subjectCN: commonName, subjectKey: key, issuer: nil, issuerKey: key, days: days,
                  extensions: [(NID_basic_constraints, "critical,CA:TRUE"), (NID_key_usage, "critical,keyCertSign,cRLSign"),
                               (NID_subject_key_identifier, "hash")])
    }

    /// A server certificate (PEM) for `key`, naming `names` (`IP:127.0.0.1`, `DNS:localhost`, or bare
    /// names: an address becomes IP:, anything else DNS:), issued by the CA `caCertificate`/`caKey`.
    public static func issueServer(names: [String], key: PrivateKey, caCertificate: Data, caKey: PrivateKey, days: Int = 30) throws -> Data {
        guard !names.isEmpty else { throw CryptoError.unsupported(algorithm: "X.509", reason: "a server certificate needs at least one name") }
        let san = names.map { n -> String in
            if n.hasPrefix("IP:") || n.hasPrefix("DNS:") { return n }
            let isIP = n.contains(":") || n.split(separator: ".").count == 4 && n.allSatisfy { $0.isNumber || $0 == "." }
            return (isIP ? "IP:" : "DNS:") + n
        }
        for s in san where s.contains(",") || s.contains("\n") {
            throw CryptoError.unsupported(algorithm: "X.509", reason: "invalid certificate name \(s)")
        }
        let ca = try readPEMCertificate(caCertificate)
        defer { X509_free(ca) }
        let cn = String(san[0].split(separator: ":", maxSplits: 1)[1])
        return try build(subjectCN: cn, subjectKey: key, issuer: ca, issuerKey: caKey, days: days,
                         extensions: [(NID_basic_constraints, "critical,CA:FALSE"), (NID_key_usage, "critical,digitalSignature"),
                                      (NID_ext_key_usage, "serverAuth"), (NID_subject_alt_name, san.joined(separator: ",")),
                                      (NID_subject_key_identifier, "hash"), (NID_authority_key_identifier, "keyid")])
    }

    /// A TLS client certificate (PEM) for `key` with subject CN `commonName`, issued by the CA (for mTLS registries).
    public static func issueClient(commonName: String, key: PrivateKey, caCertificate: Data, caKey: PrivateKey, days: Int = 30) throws -> Data {
        guard !commonName.isEmpty, !commonName.contains(where: { $0 == "," || $0 == "\n" || $0 == "/" }) else {
            throw CryptoError.unsupported(algorithm: "X.509", reason: "invalid client certificate name \(commonName)")
        }
        let ca = try readPEMCertificate(caCertificate)
        defer { X509_free(ca) }
        return try build(subjectCN: commonName, subjectKey: key, issuer: ca, issuerKey: caKey, days: days,
                         extensions: [(NID_basic_constraints, "critical,CA:FALSE"), (NID_key_usage, "critical,digitalSignature"),
                                      (NID_ext_key_usage, "clientAuth"), (NID_subject_key_identifier, "hash"), (NID_authority_key_identifier, "keyid")])
    }

    static func readPEMCertificate(_ pem: Data) throws -> OpaquePointer {
        guard let bio = pem.withUnsafeBytes({ BIO_new_mem_buf($0.baseAddress, Int32($0.count)) }) else { throw CryptoError.fromQueue("BIO_new_mem_buf") }
        defer { BIO_free(bio) }
        guard let x = PEM_read_bio_X509(bio, nil, nil, nil) else {
            throw CryptoError.badKey(source: "CA certificate", problem: "not a PEM certificate (\(CryptoError.drainErrors()))")
        }
        return x
    }

    private static func build(subjectCN: String, subjectKey: PrivateKey, issuer: OpaquePointer?, issuerKey: PrivateKey, days: Int,
                              extensions: [(Int32, String)]) throws -> Data {
        ERR_clear_error()
        guard let x = X509_new_ex(CryptoProvider.context, nil) else { throw CryptoError.fromQueue("X509_new_ex") }
        defer { X509_free(x) }
        let serial = try Random.bytes(16)
        var ok = X509_set_version(x, 2) == 1
        if let bn = BN_bin2bn(serial.map { $0 & 0x7f }, 16, nil) {   // positive, < 2^127
            ok = ok && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != nil
            BN_free(bn)
        } else { ok = false }
        ok = ok && X509_gmtime_adj(X509_getm_notBefore(x), -60) != nil
        ok = ok && X509_gmtime_adj(X509_getm_notAfter(x), days * 86400) != nil
        ok = ok && X509_set_pubkey(x, subjectKey.pkey) == 1
        let name = X509_get_subject_name(x)
        ok = ok && X509_NAME_add_entry_by_txt(name, "CN", kiln_mbstring_asc(), subjectCN, -1, -1, 0) == 1
        ok = ok && X509_set_issuer_name(x, issuer.map { X509_get_subject_name($0) } ?? name) == 1
        guard ok else { throw CryptoError.fromQueue("filling in an X.509 certificate") }
        var v3 = X509V3_CTX()
        X509V3_set_ctx(&v3, issuer ?? x, x, nil, nil, 0)
        for (nid, value) in extensions {
            guard let ext = X509V3_EXT_conf_nid(nil, &v3, nid, value) else {
                throw CryptoError.fromQueue("X.509 extension \(String(cString: OBJ_nid2sn(nid))) = \(value)")
            }
            defer { X509_EXTENSION_free(ext) }
            guard X509_add_ext(x, ext, -1) == 1 else { throw CryptoError.fromQueue("adding an X.509 extension") }
        }
        let md = try DigestAlgorithm.sha256.fetch()
        defer { EVP_MD_free(md) }
        guard X509_sign(x, issuerKey.pkey, md) > 0 else { throw CryptoError.fromQueue("signing the certificate") }
        return try PEMCodec.withMemoryBIO("writing the certificate as PEM") { PEM_write_bio_X509($0, x) == 1 }
    }
}

extension Certificates {
    /// Writes `ca.crt`/`ca.key` (a new CA), `server.crt`/`server.key` (issued by it for `names`) and
    /// `client.crt`/`client.key` (a client certificate for mTLS) into `directory`.
    public static func writeServerSet(directory: String, names: [String], days: Int = 30) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let caKey = try PrivateKey.generate(.ecdsaP256)
        let ca = try makeCA(commonName: "kiln test CA", key: caKey, days: days)
        let key = try PrivateKey.generate(.ecdsaP256)
        let cert = try issueServer(names: names, key: key, caCertificate: ca, caKey: caKey, days: days)
        try caKey.save(to: directory + "/ca.key")
        try AtomicFile.write(ca, to: directory + "/ca.crt")
        try key.save(to: directory + "/server.key")
        try AtomicFile.write(cert, to: directory + "/server.crt")
        let clientKey = try PrivateKey.generate(.ecdsaP256)
        try clientKey.save(to: directory + "/client.key")
        try AtomicFile.write(try issueClient(commonName: "kiln client", key: clientKey, caCertificate: ca, caKey: caKey, days: days), to: directory + "/client.crt")
    }
}
