// KilnCrypto — every cryptographic operation in kiln, through OpenSSL 3 EVP only.
//
// Owns: `CryptoProvider` (the process-wide library context, FIPS mode that never falls back),
// `Digest` (SHA-1/256/512), `HMAC` (EVP_MAC), `PrivateKey`/`PublicKey` (PEM load/save, generate), signing and
// verification, `CryptoError`.
//
// May import: KilnCore, COpenSSL.
