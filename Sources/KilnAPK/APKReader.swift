import Foundation
import KilnArchive
import KilnCrypto

/// A verified APK v2 package (what `APKReader.read` returns).
public struct APKPackage: Sendable {
    public struct Signature: Sendable, Equatable {
        /// `RSA` (SHA-1), `RSA256`, `RSA512`, ...
        public var type: String
        /// Key name, looked up as a file name in the keyring (e.g. `kiln-dev.rsa.pub`).
        public var keyName: String
        public var bytes: [UInt8]
    }
    /// The path (or name) the package was read from.
    public var file: String
    /// Size of the .apk file in bytes (APKINDEX `S:`).
    public var fileSize: Int
    public var info: PkgInfo
    public var pkginfoText: String
    public var signatures: [Signature]
    /// Name of the key whose signature verified, nil when read with `allowUntrusted` and no key matched.
    public var trustedKey: String?
    /// APKINDEX `C:`: `Q1` + base64(SHA-1(control gzip member)).
    public var checksum: String
    /// Lowercase hex SHA-256 of the data gzip member (= .PKGINFO `datahash`).
    public var dataHash: String
    /// Control-member scripts by name (`.post-install`, ...).
    public var scripts: [String: Data]
    /// Data-member entries in archive order; `data` holds the contents of regular files (empty when
    /// read with `keepFileData: false`, the streaming path image assembly uses).
    public var entries: [APKTarEntry]
    /// Byte ranges of the gzip members in the file: [signature,] control, data.
    public var memberRanges: [Range<Int>]
    /// Lowercase hex SHA-256 of the whole file (lock files pin it), computed while reading.
    public var fileSHA256: String

    /// Hex SHA-1 of an entry as recorded for lib/apk/db/installed `Z:` lines (files, symlinks;
    /// hardlinks inherit their target's), or nil for directories and devices.
    public func checksumSHA1(of entry: APKTarEntry) -> String? {
        if let c = entry.pax["APK-TOOLS.checksum.SHA1"] { return c }
        if entry.kind == .hardlink, let t = entry.linkTarget, let target = entries.first(where: { $0.path == t }) {
            return target.pax["APK-TOOLS.checksum.SHA1"]
        }
        return nil
    }
}

/// How strictly `APKReader` checks a package.
public struct APKVerifyOptions {
    public var keyring: APKKeyring
    /// Accept a package whose signature key is not in the keyring (structure and hashes are still checked).
    public var allowUntrusted: Bool
    /// Check every regular file's and symlink's `APK-TOOLS.checksum.SHA1` (apk itself only stores them).
    public var checkFileChecksums: Bool
    /// The most bytes one gzip member may inflate to (`APKLimits.maxInflatedMemberBytes`); checked
    /// while inflating, before any content is trusted.
    public var maxInflatedMemberBytes: Int
    /// Accept symlinks with absolute targets. They resolve inside the root an installer unpacks
    /// into (`/etc/shadow` means the image's own), and imported Debian packages need them (libc6:
    /// `lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/…`), so `kiln apk verify` and `kiln
    /// index` accept them; a caller that unpacks onto a host and follows links sets it false. An
    /// absolute target with `..` above `/` is refused either way.
    public var allowAbsoluteSymlinks: Bool
    /// The most bytes the signature and control members may each inflate to (`APKLimits.maxControlMemberBytes`):
    /// they are held in memory and parsed before the signature is checked, so the cap is small.
    public var maxControlMemberBytes: Int = APKLimits.maxControlMemberBytes
    /// Options with the given keyring and checks (defaults: strict, 512 MiB member limit).
    public init(keyring: APKKeyring = APKKeyring(), allowUntrusted: Bool = false, checkFileChecksums: Bool = true,
                maxInflatedMemberBytes: Int = APKLimits.maxInflatedMemberBytes, allowAbsoluteSymlinks: Bool = true) {
        self.keyring = keyring; self.allowUntrusted = allowUntrusted; self.checkFileChecksums = checkFileChecksums
        self.maxInflatedMemberBytes = maxInflatedMemberBytes; self.allowAbsoluteSymlinks = allowAbsoluteSymlinks
    }
}

/// Limits on untrusted packages and indexes.
public enum APKLimits {
    /// 16 MiB unless the environment variable `KILN_MAX_CONTROL_BYTES` gives another byte count
    /// (a .PKGINFO and its scripts are kilobytes).
    public static var maxControlMemberBytes: Int {
        ProcessInfo.processInfo.environment["KILN_MAX_CONTROL_BYTES"].flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil } ?? 16 << 20
    }
    /// 512 MiB unless the environment variable `KILN_MAX_INFLATED_BYTES` gives another byte count.
    public static var maxInflatedMemberBytes: Int {
        ProcessInfo.processInfo.environment["KILN_MAX_INFLATED_BYTES"].flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil } ?? 512 << 20
    }
}

/// Reads and verifies APK v2 packages (apk-format.md §1.1-1.6).
public enum APKReader {
    /// Splits a file into its gzip members; the error names the file.
    static func members(_ data: Data, file: String, limit: Int = APKLimits.maxInflatedMemberBytes) throws -> [Range<Int>] {
        do { return try Gzip.memberRanges(data, limit: limit) } catch {
            throw APKError.malformed(file: file, "not a (multi-member) gzip stream: \(error)")
        }
    }

    static func gunzip(_ data: Data, file: String, member: String, limit: Int = APKLimits.maxInflatedMemberBytes) throws -> Data {
        let out: Data
        do { out = try Gzip.decompress(data, limit: limit) } catch {
            throw APKError.malformed(file: file, "\(member) member: gzip data is corrupt: \(error)")
        }
        // The gzip trailer's ISIZE must match (zlib checks the CRC; check the length here too).
        guard data.count >= 18 else { throw APKError.malformed(file: file, "\(member) member: truncated gzip member") }
        let t = data.suffix(4).map { UInt32($0) }
        let isize = t[0] | t[1] << 8 | t[2] << 16 | t[3] << 24
        guard isize == UInt32(truncatingIfNeeded: out.count) else {
            throw APKError.malformed(file: file, "\(member) member: gzip length check failed")
        }
        return out
    }

    /// Parses a signature member (already decompressed) into signatures; enforces no EOA blocks.
    static func parseSignatureMember(_ tar: Data, file: String) throws -> [APKPackage.Signature] {
        if let z = APKTarStream.zeroBlocks(tar).first {
            throw APKError.malformed(file: file, "signature member contains an all-zero 512-byte block at offset \(z) (end-of-archive blocks are not allowed there)")
        }
        let r = try APKTarStream.parse(tar, file: file, member: "signature")
        var sigs: [APKPackage.Signature] = []
        for e in r.entries {
            guard e.path.hasPrefix(".SIGN."), e.kind == .file else {
                throw APKError.malformed(file: file, "signature member holds \(e.path), expected only .SIGN.* files")
            }
            let rest = e.path.dropFirst(".SIGN.".count)
            guard let dot = rest.firstIndex(of: "."), rest.index(after: dot) < rest.endIndex else {
                throw APKError.malformed(file: file, "signature entry \(e.path) is not .SIGN.<TYPE>.<keyname>")
            }
            sigs.append(.init(type: String(rest[..<dot]), keyName: String(rest[rest.index(after: dot)...]), bytes: [UInt8](e.data)))
        }
        guard !sigs.isEmpty else { throw APKError.malformed(file: file, "empty signature member") }
        return sigs
    }

    static func digest(forSignatureType t: String) -> DigestAlgorithm? {
        switch t {
        case "RSA": return .sha1
        case "RSA256": return .sha256
        case "RSA512": return .sha512
        default: return nil
        }
    }

    /// Verifies `signed` with the first signature whose key is in the keyring (as apk does).
    /// Returns the trusted key name, or nil if no key matched and `allowUntrusted`.
    static func verifySignatures(_ sigs: [APKPackage.Signature], signed: Data, file: String, options: APKVerifyOptions) throws -> String? {
        for s in sigs {
            guard let alg = digest(forSignatureType: s.type), let key = options.keyring.keys[s.keyName] else { continue }
            let ok = (try? key.verify(signature: s.bytes, data: signed, digest: alg)) ?? false
            guard ok else { throw APKError.badSignature(file: file, key: s.keyName) }
            return s.keyName
        }
        if options.allowUntrusted { return nil }
        throw APKError.untrusted(file: file, signatures: sigs.map { ".SIGN.\($0.type).\($0.keyName)" })
    }

}
