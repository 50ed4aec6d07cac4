import Foundation
import KilnCore
import KilnCrypto

/// SHA-256 (through KilnCrypto / OpenSSL EVP) for input keys and output digests.
enum NightlyHash {
    static func sha256Hex(_ data: Data) throws -> String { try Digest.sha256Hex(data) }
}
