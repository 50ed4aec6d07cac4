import Foundation
import KilnCrypto

enum ReproHash {
    static func sha256Hex(_ data: Data) throws -> String { try Digest.sha256Hex(data) }
}
