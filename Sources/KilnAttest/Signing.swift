import Foundation
import KilnOCI
import KilnCore
import KilnCrypto

/// Errors of signing, attesting and verifying. Each names the file or artifact and what to do.
public struct AttestError: KilnError, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Loads signing keys for image signatures and attestations: ECDSA P-256 in PKCS#8 PEM (what
/// `kiln keygen --type ecdsa` writes). cosign's own private-key format is refused on purpose.
public enum SigningKeys {
    static let cosignMarkers = ["ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY"]

    public static func loadPrivate(path: String, password: String? = nil) throws -> PrivateKey {
        var st = stat()
        if stat(path, &st) == 0, (st.st_mode & S_IFMT) != S_IFREG {
            throw AttestError("\(path): cannot read the signing key: it is \((st.st_mode & S_IFMT) == S_IFDIR ? "a directory" : "not a regular file"); give the path of the key file")
        }
        guard let pem = FileManager.default.contents(atPath: path) else {
            throw AttestError("\(path): cannot read the signing key (make one with `kiln keygen --type ecdsa --out NAME`)")
        }
        let text = String(decoding: pem.prefix(4096), as: UTF8.self)
        if cosignMarkers.contains(where: { text.contains($0) }) {
            throw AttestError("\(path): this is a cosign private key (scrypt + NaCl secretbox), which is not a FIPS-approved "
                + "key wrapping; kiln does not read it. Use a PKCS#8 ECDSA P-256 key from `kiln keygen --type ecdsa` "
                + "(its .pub works with `cosign verify --key`).")
        }
        let key = try PrivateKey.load(path: path, password: password)
        try requireECDSA(key.type, path: path)
        return key
    }

    public static func loadPublic(path: String) throws -> PublicKey {
        guard FileManager.default.fileExists(atPath: path) else {
            throw AttestError("\(path): no such public key file (use the .pub written by `kiln keygen --type ecdsa`)")
        }
        let key = try PublicKey.load(path: path)
        try requireECDSA(key.type, path: path)
        return key
    }

    static func requireECDSA(_ t: KeyType, path: String) throws {
        guard t == .ecdsaP256 else {
            throw AttestError("\(path): image signatures and attestations need an ECDSA P-256 key (cosign-compatible, "
                + "FIPS 186-5); this is \(t). Make one with `kiln keygen --type ecdsa`.")
        }
    }

    /// A stable DSSE keyid: lowercase hex SHA-256 of the public key's SubjectPublicKeyInfo DER.
    public static func keyID(_ key: PublicKey) throws -> String {
        try Digest.sha256Hex(key.der())
    }
}

/// DSSE v1.0.0 envelopes (secure-systems-lab/dsse), signed with ECDSA P-256 / SHA-256 (DER signatures).
public struct DSSEEnvelope: Equatable, Sendable {
    public static let inTotoPayloadType = "application/vnd.in-toto+json"

    public struct Signature: Equatable, Sendable { public var keyid: String; public var sig: String }
    public var payloadType: String
    public var payload: Data
    public var signatures: [Signature]

    /// PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, lengths in ASCII decimal.
    public static func pae(payloadType: String, payload: Data) -> Data {
        let t = Data(payloadType.utf8)
        var d = Data("DSSEv1 \(t.count) ".utf8)
        d.append(t)
        d.append(Data(" \(payload.count) ".utf8))
        d.append(payload)
        return d
    }

    public static func sign(payload: Data, payloadType: String = inTotoPayloadType, key: PrivateKey) throws -> DSSEEnvelope {
        let sig = try key.sign(pae(payloadType: payloadType, payload: payload), digest: .sha256)
        let keyid = try SigningKeys.keyID(key.publicKey)
        return DSSEEnvelope(payloadType: payloadType, payload: payload, signatures: [Signature(keyid: keyid, sig: sig.base64String)])
    }

    public var json: JSON {
        .object([("payloadType", .string(payloadType)),
                 ("payload", .string(payload.base64EncodedString())),
                 ("signatures", .array(signatures.map { .object([("keyid", .string($0.keyid)), ("sig", .string($0.sig))]) }))])
    }

    public init(payloadType: String, payload: Data, signatures: [Signature]) {
        self.payloadType = payloadType; self.payload = payload; self.signatures = signatures
    }

    public init(json: JSON, source: String) throws {
        guard let t = json["payloadType"]?.string else { throw AttestError("\(source): DSSE envelope without payloadType") }
        guard let p = json["payload"]?.string, let pd = Base64.decode(p) else {
            throw AttestError("\(source): DSSE envelope payload is missing or not base64")
        }
        guard let sigs = json["signatures"]?.array, !sigs.isEmpty else { throw AttestError("\(source): DSSE envelope has no signatures") }
        payloadType = t; payload = pd
        signatures = sigs.map { Signature(keyid: $0["keyid"]?.string ?? "", sig: $0["sig"]?.string ?? "") }
    }

    /// True when at least one signature verifies with `key` (keyids are hints only, never trusted).
    public func verify(with key: PublicKey) throws -> Bool {
        let pae = DSSEEnvelope.pae(payloadType: payloadType, payload: payload)
        for s in signatures {
            guard let der = Base64.decode(s.sig) else { continue }
            if (try? key.verify(signature: [UInt8](der), data: pae, digest: .sha256)) == true { return true }
        }
        return false
    }
}

/// base64 decoding that accepts both the standard and the URL-safe alphabet, padded or not (DSSE rule).
public enum Base64 {
    public static func decode(_ s: String) -> Data? {
        var t = s.trimmingCharacters(in: .whitespacesAndNewlines)
            .replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while t.count % 4 != 0 { t += "=" }
        return Data(base64Encoded: t)
    }
}

/// cosign's "simple signing" payload: what a `sha256-<hex>.sig` layer carries and its signature covers.
public enum SimpleSigning {
    public static let type = "cosign container image signature"

    /// The exact payload bytes cosign writes (Go struct order: critical{identity,image,type}, optional).
    public static func payload(dockerReference: String, manifestDigest: String, optional: [String: String]? = nil) -> Data {
        let opt: JSON = optional.map { o in .object(o.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }) } ?? .null
        return JSON.object([
            ("critical", .object([
                ("identity", .object([("docker-reference", .string(dockerReference))])),
                ("image", .object([("docker-manifest-digest", .string(manifestDigest))])),
                ("type", .string(type)),
            ])),
            ("optional", opt),
        ]).compact()
    }

    /// The manifest digest a payload names, after checking its type. Throws on a malformed payload.
    public static func manifestDigest(in payload: Data, source: String) throws -> String {
        let j = try JSON.parse(payload, source: source)
        guard j["critical"]?["type"]?.string == type else {
            throw AttestError("\(source): payload critical.type is not \"\(type)\"")
        }
        guard let d = j["critical"]?["image"]?["docker-manifest-digest"]?.string else {
            throw AttestError("\(source): payload has no critical.image.docker-manifest-digest")
        }
        return d
    }
}
