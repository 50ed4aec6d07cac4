import COpenSSL
import Foundation

/// Digests kiln uses. SHA-1 only where a format requires it (APK checksums); never for signing.
public enum DigestAlgorithm: String, Sendable, CaseIterable {
    case sha1, sha256, sha512

    /// OpenSSL's fetch name.
    var opensslName: String {
        switch self { case .sha1: "SHA1"; case .sha256: "SHA256"; case .sha512: "SHA512" }
    }
    /// Digest length in bytes.
    public var size: Int {
        switch self { case .sha1: 20; case .sha256: 32; case .sha512: 64 }
    }

    /// Fetches the EVP_MD from kiln's library context (FIPS provider in FIPS mode). Caller frees.
    func fetch() throws -> OpaquePointer {
        guard let md = EVP_MD_fetch(CryptoProvider.context, opensslName, nil) else {
            throw CryptoError.openssl(operation: "fetching digest \(opensslName)", detail: CryptoError.drainErrors())
        }
        return md
    }
}

/// A streaming digest over OpenSSL's EVP_MD_CTX. Feed with `update`, then `finalize` once.
public final class DigestStream {
    public let algorithm: DigestAlgorithm
    private let ctx: OpaquePointer
    private var finished = false

    public init(_ algorithm: DigestAlgorithm) throws {
        self.algorithm = algorithm
        let md = try algorithm.fetch()
        defer { EVP_MD_free(md) }
        guard let ctx = EVP_MD_CTX_new() else { throw CryptoError.fromQueue("EVP_MD_CTX_new") }
        guard EVP_DigestInit_ex2(ctx, md, nil) == 1 else {
            EVP_MD_CTX_free(ctx)
            throw CryptoError.fromQueue("starting a \(algorithm.opensslName) digest")
        }
        self.ctx = ctx
    }

    deinit { EVP_MD_CTX_free(ctx) }

    public func update(_ data: Data) {
        data.withUnsafeBytes { update($0) }
    }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        precondition(!finished, "DigestStream.update after finalize")   // programming error, not user input
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        _ = EVP_DigestUpdate(ctx, base, bytes.count)   // cannot fail for software digests once initialised
    }

    /// The digest; call once.
    public func finalize() throws -> [UInt8] {
        guard !finished else { throw CryptoError.openssl(operation: "finalizing a digest", detail: "already finalized") }
        finished = true
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var len: UInt32 = 0
        guard EVP_DigestFinal_ex(ctx, &out, &len) == 1 else { throw CryptoError.fromQueue("finalizing \(algorithm.opensslName)") }
        return Array(out.prefix(Int(len)))
    }
}

public enum Digest {
    public static func hash(_ algorithm: DigestAlgorithm, _ data: Data) throws -> [UInt8] {
        let s = try DigestStream(algorithm)
        s.update(data)
        return try s.finalize()
    }

    /// Digest of a file, read in 1 MiB chunks (never the whole file at once).
    public static func hashFile(_ algorithm: DigestAlgorithm, path: String) throws -> [UInt8] {
        let s = try DigestStream(algorithm)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CryptoError.io(path: path, detail: "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buf.deallocate() }
        while true {
            let n = read(fd, buf.baseAddress, buf.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw CryptoError.io(path: path, detail: "cannot read: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            s.update(UnsafeRawBufferPointer(rebasing: buf[0..<n]))
        }
        return try s.finalize()
    }

    public static func sha256Hex(_ data: Data) throws -> String {
        try hash(.sha256, data).hexString
    }
}

extension Sequence where Element == UInt8 {
    /// Lower-case hex.
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(underestimatedCount * 2)
        for b in self { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 0x0f)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Standard base64 with padding.
    public var base64String: String { Data(self).base64EncodedString() }
}

/// Random bytes from OpenSSL's DRBG in kiln's library context.
public enum Random {
    public static func bytes(_ count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        guard count == 0 || RAND_bytes_ex(CryptoProvider.context, &out, count, 0) == 1 else {
            throw CryptoError.fromQueue("RAND_bytes_ex")
        }
        return out
    }
}
