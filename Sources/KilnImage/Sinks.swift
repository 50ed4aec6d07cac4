import Foundation
import KilnArchive
import KilnCore
import KilnCrypto

/// Hashes (SHA-256) and counts the bytes passing through, then hands them on. `close()` closes
/// the next sink and finalizes the digest.
final class HashingSink: ByteSink {
    let next: ByteSink
    private let stream: DigestStream
    private(set) var byteCount: Int64 = 0
    private(set) var digest: [UInt8]?

    init(_ next: ByteSink) throws {
        self.next = next
        stream = try DigestStream(.sha256)
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        byteCount += Int64(bytes.count)
        stream.update(bytes)
        try next.write(bytes)
    }

    func close() throws {
        try next.close()
        if digest == nil { digest = try stream.finalize() }
    }
}
