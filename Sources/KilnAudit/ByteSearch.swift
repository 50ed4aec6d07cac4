import Foundation

/// Byte-pattern search over a file's bytes with `memchr` on a rare anchor byte, then `memcmp` (no copies).
enum ByteSearch {
    /// The first offset of `needle` in `data` at or after `from`, or nil.
    static func first(_ needle: [UInt8], in data: Data, from: Int = 0) -> Int? {
        first(needle, in: data, range: max(0, from)..<max(max(0, from), data.count))
    }

    /// The index of the byte of `needle` to hunt for with `memchr`: the first one that is not
    /// 0x00, 0x01 or 0xff (common in binaries), so the search skips most of a file per call.
    static func anchor(_ needle: [UInt8]) -> Int {
        needle.firstIndex { $0 != 0 && $0 != 1 && $0 != 0xff } ?? 0
    }

    /// The first offset of `needle` within `range` of `data` (memchr on an anchor byte, then memcmp).
    static func first(_ needle: [UInt8], in data: Data, range: Range<Int>) -> Int? {
        guard !needle.isEmpty, range.lowerBound >= 0, range.upperBound <= data.count, range.count >= needle.count else { return nil }
        let k = anchor(needle), a = Int32(needle[k])
        return data.withUnsafeBytes { (h: UnsafeRawBufferPointer) -> Int? in
            guard let base = h.baseAddress else { return nil }
            return needle.withUnsafeBytes { n -> Int? in
                var pos = range.lowerBound + k                      // where the anchor may be
                let lastAnchor = range.upperBound - needle.count + k  // last possible anchor position
                while pos <= lastAnchor {
                    guard let hit = memchr(base + pos, a, lastAnchor - pos + 1) else { return nil }
                    let at = base.distance(to: UnsafeRawPointer(hit))
                    if memcmp(base + at - k, n.baseAddress!, n.count) == 0 { return at - k }
                    pos = at + 1
                }
                return nil
            }
        }
    }

    static func first(_ needle: String, in data: Data, from: Int = 0) -> Int? { first(Array(needle.utf8), in: data, from: from) }

    /// Printable ASCII starting at `offset`, up to `max` bytes (stops at a NUL or control byte).
    static func printable(_ data: Data, at offset: Int, max: Int = 80) -> String {
        var out = [UInt8]()
        var i = offset
        while i < data.count, out.count < max {
            let b = data[data.startIndex + i]
            guard b >= 0x20, b < 0x7f else { break }
            out.append(b); i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Little-endian bytes of 32-bit words.
    static func le32(_ words: [UInt32]) -> [UInt8] { words.flatMap { w in (0..<4).map { UInt8(truncatingIfNeeded: w >> (8 * $0)) } } }
    /// Little-endian bytes of 64-bit words.
    static func le64(_ words: [UInt64]) -> [UInt8] { words.flatMap { w in (0..<8).map { UInt8(truncatingIfNeeded: w >> (8 * $0)) } } }
}
