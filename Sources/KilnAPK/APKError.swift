import Foundation
import KilnCore

/// Errors from writing, reading and verifying APK packages and indexes. Each names the file (and
/// member or entry) and says what to do.
public enum APKError: KilnError, Equatable {
    case invalidSpec(String)
    /// The file is not laid out as an APK v2 package / index (names file and what is wrong).
    case malformed(file: String, String)
    case badSignature(file: String, key: String)
    case untrusted(file: String, signatures: [String])
    case dataHashMismatch(file: String, expected: String, actual: String)
    case checksumMismatch(file: String, entry: String, expected: String, actual: String)
    case missingChecksum(file: String, entry: String)
    /// A data entry no installer should accept (traversal, escaping link, device, …).
    case unsafeEntry(file: String, entry: String, reason: String)
    case key(String)
    case io(String)

    public var description: String {
        switch self {
        case .invalidSpec(let m): return m
        case .malformed(let f, let m): return "\(f): not a valid APK v2 file: \(m)"
        case .badSignature(let f, let k):
            return "\(f): BAD signature: the signature by key \(k) does not match the control data (the file was changed after signing, or signed by another key with the same name)"
        case .untrusted(let f, let s):
            return s.isEmpty
                ? "\(f): UNTRUSTED: the file is not signed"
                : "\(f): UNTRUSTED: no trusted public key for \(s.joined(separator: ", ")) (pass the matching key with --key or --keyring DIR)"
        case .dataHashMismatch(let f, let e, let a):
            return "\(f): data member hash mismatch: .PKGINFO datahash is \(e), data member hashes to \(a) (the data was replaced or changed)"
        case .checksumMismatch(let f, let e, let x, let a):
            return "\(f): \(e): APK-TOOLS.checksum.SHA1 is \(x) but the content hashes to \(a)"
        case .missingChecksum(let f, let e):
            return "\(f): \(e): no APK-TOOLS.checksum.SHA1 record (every regular file and symlink needs one)"
        case .unsafeEntry(let f, let e, let r): return "\(f): refusing entry '\(e)': \(r)"
        case .key(let m): return m
        case .io(let m): return m
        }
    }
}
