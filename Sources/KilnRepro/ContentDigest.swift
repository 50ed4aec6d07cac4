import Foundation
import KilnCrypto

/// SHA-256 of some bytes, whole and per `blockSize` block, taken as they stream past: two
/// contents are compared by digest, and the blocks say which 1 MiB of them to read again to
/// find the first differing byte, so neither side is ever held whole.
public struct ContentDigest: Sendable, Equatable {
    /// Bytes per block.
    public static let blockSize = 1 << 20
    /// The byte count.
    public var size: Int64
    /// SHA-256, hex.
    public var sha256: String
    /// SHA-256 of each block, for contents of more than one block (empty otherwise: the whole
    /// digest is block 0's).
    public var blocks: [[UInt8]]

    /// The digest of bytes in memory.
    public static func of(_ data: Data) throws -> ContentDigest {
        let h = try ContentHasher()
        try data.withUnsafeBytes { try h.update($0) }
        return try h.finish()
    }

    /// The digest of nothing (entries that are not regular files).
    public static let empty = ContentDigest(size: 0, sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", blocks: [])

    /// Where two contents first differ, as far as the digests tell.
    public enum Divergence: Sendable, Equatable {
        /// Same bytes.
        case none
        /// At this byte (one is a prefix of the other).
        case byte(Int64)
        /// Somewhere in this block (read it from both to find the byte).
        case block(Int)
    }

    /// Compares two digests.
    public func divergence(from o: ContentDigest) -> Divergence {
        if size == o.size && sha256 == o.sha256 { return .none }
        if size == 0 || o.size == 0 { return .byte(0) }
        if blocks.isEmpty || o.blocks.isEmpty { return .block(0) }
        for i in 0..<min(blocks.count, o.blocks.count) where blocks[i] != o.blocks[i] { return .block(i) }
        return .byte(min(size, o.size))
    }
}

/// Builds a `ContentDigest` from bytes fed in pieces of any size (OpenSSL SHA-256 through KilnCrypto).
public final class ContentHasher {
    private let whole: DigestStream
    private var block: DigestStream
    private var inBlock = 0
    private var size: Int64 = 0
    private var blocks: [[UInt8]] = []

    /// A hasher with nothing fed yet.
    public init() throws {
        whole = try DigestStream(.sha256)
        block = try DigestStream(.sha256)
    }

    /// Feeds the next bytes.
    public func update(_ bytes: UnsafeRawBufferPointer) throws {
        whole.update(bytes)
        size += Int64(bytes.count)
        var i = 0
        while i < bytes.count {
            if inBlock == ContentDigest.blockSize {
                // a full block with more bytes after it: close it
                blocks.append(try block.finalize())
                block = try DigestStream(.sha256)
                inBlock = 0
            }
            let n = min(ContentDigest.blockSize - inBlock, bytes.count - i)
            block.update(UnsafeRawBufferPointer(rebasing: bytes[i..<(i + n)]))
            inBlock += n; i += n
        }
    }

    /// The digest of everything fed.
    public func finish() throws -> ContentDigest {
        let hex = try whole.finalize().hexString
        if !blocks.isEmpty { blocks.append(try block.finalize()) }
        return ContentDigest(size: size, sha256: hex, blocks: blocks)
    }
}

/// Keeps, of bytes streaming past, the first `head` bytes and one block (`ContentDigest.blockSize`
/// bytes from `block * blockSize`): what the differ shows of a differing entry.
final class ContentCollector {
    let headLimit: Int
    let blockRange: Range<Int64>?
    private(set) var head = Data()
    private(set) var block = Data()
    private var pos: Int64 = 0

    init(head: Int, block: Int?) {
        headLimit = head
        blockRange = block.map { Int64($0) * Int64(ContentDigest.blockSize)..<(Int64($0) + 1) * Int64(ContentDigest.blockSize) }
    }

    /// Whether nothing more is wanted from later bytes.
    var satisfied: Bool { head.count >= headLimit && (blockRange.map { pos >= $0.upperBound } ?? true) }

    func update(_ bytes: UnsafeRawBufferPointer) {
        let start = pos, end = pos + Int64(bytes.count)
        if head.count < headLimit {
            head.append(contentsOf: bytes.prefix(headLimit - head.count))
        }
        if let r = blockRange, start < r.upperBound, end > r.lowerBound {
            let lo = Int(max(start, r.lowerBound) - start), hi = Int(min(end, r.upperBound) - start)
            block.append(contentsOf: bytes[lo..<hi])
        }
        pos = end
    }

    func update(_ data: Data) { data.withUnsafeBytes { update($0) } }
}

/// The offset of the first differing byte of two buffers (nil when equal; the shorter length when
/// one is a prefix of the other): 4 KiB pieces by `memcmp`, then bytes.
func firstDifferingByte(_ a: Data, _ b: Data) -> Int? {
    if a == b { return nil }
    return a.withUnsafeBytes { pa in
        b.withUnsafeBytes { pb in
            let n = min(pa.count, pb.count)
            var i = 0
            while i + 4096 <= n && memcmp(pa.baseAddress! + i, pb.baseAddress! + i, 4096) == 0 { i += 4096 }
            while i < n && pa[i] == pb[i] { i += 1 }
            return i
        }
    }
}
