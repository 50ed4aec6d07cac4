import Foundation

/// The foreign-crypto check: crypto the module does not cover. (a) library markers — OpenSSL,
/// BoringSSL, LibreSSL, libgcrypt, GnuTLS, nettle, mbed TLS, wolfSSL, Kerberos' built-in crypto,
/// ring, AWS-LC, NSS, libsodium — in ELFs not owned by the OpenSSL packages; (b) algorithm constants
/// in ELFs outside the module and libcrypto; (c) Go build info; (d) Python's built-in hashes;
/// (e) Node's bundled OpenSSL (a marker in `node`); (f) a Java runtime's provider list.
struct ForeignCryptoCheck {
    struct Marker { let id: String; let bytes: [UInt8]; let what: String; let needsVersion: Bool }
    struct Constant { let id: String; let bytes: [UInt8]; let what: String }

    static let markers: [Marker] = [
        Marker(id: "bundled-openssl", bytes: Array("OpenSSL ".utf8), what: "OpenSSL", needsVersion: true),
        Marker(id: "bundled-boringssl", bytes: Array("BoringSSL".utf8), what: "BoringSSL", needsVersion: false),
        Marker(id: "bundled-boringssl", bytes: Array("_goboringcrypto_".utf8), what: "Go BoringCrypto", needsVersion: false),
        Marker(id: "bundled-libressl", bytes: Array("LibreSSL ".utf8), what: "LibreSSL", needsVersion: true),
        Marker(id: "bundled-libgcrypt", bytes: Array("Libgcrypt ".utf8), what: "libgcrypt", needsVersion: true),
        Marker(id: "bundled-gnutls", bytes: Array("gnutls_global_init".utf8), what: "GnuTLS", needsVersion: false),
        Marker(id: "bundled-nettle", bytes: Array("nettle_aes".utf8), what: "nettle", needsVersion: false),
        Marker(id: "bundled-mbedtls", bytes: Array("mbed TLS ".utf8), what: "mbed TLS", needsVersion: true),
        Marker(id: "bundled-mbedtls", bytes: Array("Mbed TLS ".utf8), what: "Mbed TLS", needsVersion: true),
        Marker(id: "bundled-wolfssl", bytes: Array("wolfSSL ".utf8), what: "wolfSSL", needsVersion: true),
        Marker(id: "bundled-krb5-crypto", bytes: Array("krb5int_aes_encrypt".utf8), what: "Kerberos built-in crypto", needsVersion: false),
        Marker(id: "bundled-ring", bytes: Array("ring_core_".utf8), what: "Rust ring", needsVersion: false),
        Marker(id: "bundled-aws-lc", bytes: Array("AWS-LC".utf8), what: "AWS-LC", needsVersion: false),
        Marker(id: "bundled-nss", bytes: Array("NSS 3.".utf8), what: "NSS", needsVersion: false),
        Marker(id: "bundled-libsodium", bytes: Array("sodium_init".utf8), what: "libsodium", needsVersion: false),
    ]

    static let constants: [Constant] = [
        Constant(id: "aes-sbox", bytes: [0x63, 0x7c, 0x77, 0x7b, 0xf2, 0x6b, 0x6f, 0xc5, 0x30, 0x01, 0x67, 0x2b, 0xfe, 0xd7, 0xab, 0x76], what: "AES S-box"),
        Constant(id: "sha256-k", bytes: ByteSearch.le32([0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5]), what: "SHA-256 round constants"),
        Constant(id: "sha512-k", bytes: ByteSearch.le64([0x428a2f98d728ae22, 0x7137449123ef65cd]), what: "SHA-512 round constants"),
        Constant(id: "md5-sine", bytes: ByteSearch.le32([0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee]), what: "MD5 sine table"),
        Constant(id: "sha1-init", bytes: ByteSearch.le32([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0]), what: "SHA-1 initial state"),
        Constant(id: "chacha-sigma", bytes: Array("expand 32-byte k".utf8), what: "ChaCha/Salsa constant"),
        Constant(id: "keccak-rc", bytes: ByteSearch.le64([0x0000000000000001, 0x0000000000008082, 0x800000000000808a]), what: "Keccak round constants"),
    ]

    let root: ImageRoot
    let elfs: [ImageELF]
    let isOpenSSLPackage: (String?) -> Bool
    let modulePath: String?

    /// "OpenSSL 3.0.22 25 Aug 2026" shape: a digit after the marker.
    static func versioned(_ data: Data, at o: Int, after n: Int) -> Bool {
        let i = o + n
        guard i < data.count else { return false }
        let b = data[data.startIndex + i]
        return b >= 0x30 && b <= 0x39
    }

    func run() -> (findings: [AuditFinding], summary: String) {
        var f: [AuditFinding] = []
        var scanned = 0
        for e in elfs where e.path != modulePath && !isOpenSSLPackage(e.owner) {
            scanned += 1
            var seenIDs = Set<String>()
            for m in ForeignCryptoCheck.markers where !seenIDs.contains(m.id) {
                var from = 0
                while let o = ByteSearch.first(m.bytes, in: e.data, from: from) {
                    from = o + 1
                    if m.needsVersion && !ForeignCryptoCheck.versioned(e.data, at: o, after: m.bytes.count) { continue }
                    let s = ByteSearch.printable(e.data, at: o, max: 48)
                    let node = ImageRoot.basename(e.path) == "node" && m.id == "bundled-openssl"
                    f.append(AuditFinding(node ? "node-bundled-openssl" : m.id, .foreignCrypto, path: e.path, package: e.owner,
                                          message: node ? "node carries its own OpenSSL (\(s)); it does not use the image's libcrypto unless built --shared-openssl"
                                                        : "contains \(m.what) (\(s)): crypto outside the FIPS module",
                                          evidence: AuditEvidence(offset: o, string: s),
                                          advice: node ? "use a node built with --shared-openssl against the image's libcrypto, run with --openssl-shared-config"
                                                       : "rebuild it against the image's OpenSSL (libcrypto.so.3) instead of \(m.what)"))
                    seenIDs.insert(m.id)
                    break
                }
            }
            for c in ForeignCryptoCheck.constants {
                guard let o = ByteSearch.first(c.bytes, in: e.data) else { continue }
                f.append(AuditFinding(c.id, .foreignCrypto, path: e.path, package: e.owner,
                                      message: "contains the \(c.what): home-grown or statically linked crypto that no library marker names",
                                      evidence: AuditEvidence(offset: o, symbol: c.what),
                                      advice: "make the program use the image's libcrypto.so.3 (EVP) for this algorithm, or allow it with a reason if it is not used for security"))
            }
            if let go = GoBuildInfo.find(in: e.data) { f.append(contentsOf: goFindings(go, e)) }
        }
        f.append(contentsOf: opensslExtras())
        f.append(contentsOf: pythonFindings())
        f.append(contentsOf: javaFindings())
        return (f, "\(scanned) ELF files outside the module and OpenSSL scanned for library markers and algorithm constants; Go, Python, Node, Java checked")
    }

    func goFindings(_ go: GoBuildInfo, _ e: ImageELF) -> [AuditFinding] {
        let ev = AuditEvidence(offset: go.offset, symbol: ".go.buildinfo", string: go.summary)
        if go.version.contains("X:boringcrypto") || (go.settings["GOEXPERIMENT"] ?? "").contains("boringcrypto") {
            return [AuditFinding("go-boringcrypto", .foreignCrypto, path: e.path, package: e.owner,
                                 message: "Go binary (\(go.version)) built with BoringCrypto (CMVP #4407, FIPS 140-2, historical): a second module",
                                 evidence: ev, advice: "rebuild with the image's OpenSSL backend or GOFIPS140 and allow the Go module by policy")]
        }
        if let exp = go.settings["GOEXPERIMENT"], exp.contains("opensslcrypto") || exp.contains("strictfipsruntime") || exp.contains("systemcrypto") {
            return []
        }
        if let snap = go.settings["GOFIPS140"], snap != "off", !snap.isEmpty {
            let on = (go.settings["DefaultGODEBUG"] ?? "").contains("fips140=on")
            let certified = snap.hasPrefix("v1.0.0")
            return [AuditFinding(certified && on ? "go-fips140" : "go-fips140-unvalidated", .foreignCrypto, path: e.path, package: e.owner,
                                 message: certified && on ? "Go binary uses the Go Cryptographic Module \(snap) (CMVP #5247): a second validated module beside OpenSSL's"
                                                          : "Go binary built with GOFIPS140=\(snap)\(on ? "" : " without fips140=on"): not a validated Go module snapshot",
                                 evidence: ev, advice: certified && on ? "allow it by policy (--policy) if the Go module is accepted as a second validated module"
                                                                       : "build with GOFIPS140=v1.0.0 (certified snapshot) or use the image's OpenSSL")]
        }
        return [AuditFinding("go-native-crypto", .foreignCrypto, path: e.path, package: e.owner,
                             message: "Go binary (\(go.version)) with Go's own non-validated crypto (no GOFIPS140, no BoringCrypto, no OpenSSL backend)",
                             evidence: ev, advice: "rebuild with GOFIPS140=v1.0.0 (and allow the Go module by policy) or with an OpenSSL backend")]
    }

    /// OpenSSL's own non-validated loadable code: providers other than fips.so (legacy.so holds MD4,
    /// RC4, DES, …) and ENGINE modules. Not scanned for constants (they are OpenSSL's), but an auditor
    /// lists them: any program can load them with OSSL_PROVIDER_load / ENGINE_by_id.
    func opensslExtras() -> [AuditFinding] {
        elfs.compactMap { e in
            let dir = ImageRoot.dirname(e.path), base = ImageRoot.basename(e.path)
            if dir.hasSuffix("ossl-modules") && e.path != modulePath {
                return AuditFinding(base == "legacy.so" ? "openssl-legacy-provider" : "openssl-extra-provider", .foreignCrypto, path: e.path, package: e.owner,
                                    message: "OpenSSL provider module \(base) outside the FIPS boundary: a program can load it with OSSL_PROVIDER_load()",
                                    evidence: AuditEvidence(symbol: "OSSL_provider_init"),
                                    advice: "leave it out of the FIPS variant (its own subpackage), or allow it with the reason it is never loaded")
            }
            if dir.hasSuffix("engines-3") || dir.hasSuffix("engines-1.1") {
                return AuditFinding("openssl-engine", .foreignCrypto, path: e.path, package: e.owner,
                                    message: "OpenSSL ENGINE module \(base): crypto outside the providers (ENGINE_by_id)",
                                    evidence: AuditEvidence(symbol: "bind_engine"),
                                    advice: "leave engines out of the FIPS variant, or allow them with the reason they are never loaded")
            }
            return nil
        }
    }

    static let builtinHashes = ["_md5", "_sha1", "_sha2", "_sha256", "_sha512", "_sha3"]

    func pythonFindings() -> [AuditFinding] {
        var f: [AuditFinding] = []
        for (p, data) in root.regularFiles {
            let base = ImageRoot.basename(p)
            if ImageRoot.dirname(p).hasSuffix("lib-dynload"), let mod = ForeignCryptoCheck.builtinHashes.first(where: { base == $0 + ".so" || base.hasPrefix($0 + ".") }) {
                f.append(AuditFinding("python-builtin-hash", .foreignCrypto, path: p, package: root.owner(p),
                                      message: "Python's built-in \(mod) module: hashlib falls back to it when OpenSSL refuses the algorithm",
                                      evidence: AuditEvidence(symbol: "PyInit_" + mod), advice: "build Python with --with-builtin-hashlib-hashes=blake2"))
            } else if base.hasPrefix("python3") || base.hasPrefix("libpython3"), ELFInfoCache.isELF(data) {
                for mod in ForeignCryptoCheck.builtinHashes {
                    guard let o = ByteSearch.first(Array("PyInit_\(mod)\u{0}".utf8), in: data) else { continue }
                    f.append(AuditFinding("python-builtin-hash", .foreignCrypto, path: p, package: root.owner(p),
                                          message: "the interpreter has the built-in \(mod) module compiled in",
                                          evidence: AuditEvidence(offset: o, symbol: "PyInit_" + mod), advice: "build Python with --with-builtin-hashlib-hashes=blake2"))
                }
            } else if base.hasPrefix("_sysconfigdata") && base.hasSuffix(".py"), let o = ByteSearch.first("'PY_BUILTIN_HASHLIB_HASHES': ", in: data) {
                let v = ByteSearch.printable(data, at: o + 29, max: 120).trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
                let names = Set(v.components(separatedBy: CharacterSet(charactersIn: "'\", ")).filter { !$0.isEmpty })
                if !names.isSubset(of: ["blake2"]) {
                    f.append(AuditFinding("python-builtin-hashlib-hashes", .foreignCrypto, path: p, package: root.owner(p),
                                          message: "Python was configured with built-in hashes \(names.sorted().joined(separator: ",")) (only blake2 may stay: OpenSSL's FIPS provider has none)",
                                          evidence: AuditEvidence(offset: o, symbol: "PY_BUILTIN_HASHLIB_HASHES", string: v),
                                          advice: "build Python with --with-builtin-hashlib-hashes=blake2"))
                }
            }
        }
        return f
    }

    static let fipsJavaProviders = ["org.bouncycastle.jcajce.provider.BouncyCastleFipsProvider", "org.bouncycastle.jsse.provider.BouncyCastleJsseProvider", "SUN"]

    func javaFindings() -> [AuditFinding] {
        var f: [AuditFinding] = []
        for (p, data) in root.regularFiles where p.hasSuffix("/security/java.security") {
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where line.hasPrefix("security.provider.") {
                guard let eq = line.firstIndex(of: "=") else { continue }
                let provider = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
                let cls = provider.split(separator: " ").first.map(String.init) ?? provider
                if !ForeignCryptoCheck.fipsJavaProviders.contains(cls) {
                    f.append(AuditFinding("java-provider", .foreignCrypto, path: p, package: root.owner(p),
                                          message: "Java security provider \(cls) is not the Bouncy Castle FIPS provider",
                                          evidence: AuditEvidence(symbol: String(line[..<eq]), string: provider),
                                          advice: "list only BouncyCastleFipsProvider, BouncyCastleJsseProvider fips:BCFIPS and SUN"))
                }
            }
        }
        return f
    }
}

/// ELF magic test on image bytes.
enum ELFInfoCache {
    static func isELF(_ d: Data) -> Bool { d.count >= 4 && d.prefix(4).elementsEqual([0x7f, 0x45, 0x4c, 0x46]) }
}
