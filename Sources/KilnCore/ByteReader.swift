import Foundation

/// Bounds- and overflow-checked reads over untrusted bytes, shared by every binary parser in kiln
/// (tar/PAX in KilnArchive, ELF, gzip member scanning). No accessor ever traps: an offset or length
/// that overflows, is negative, or reaches past the end yields `nil`, which the parser turns into
/// an error naming the file.
///
/// Offsets are positions from the start of `bytes` (0-based), whatever the indices of the `Data`
/// it was made from.
public struct ByteReader: Sendable {
    /// The bytes being read.
    public let bytes: [UInt8]
    /// Byte order of the multi-byte integers read by `u16`/`u32`/`u64`.
    public var littleEndian: Bool

    /// Reads `bytes` with the given integer byte order.
    public init(_ bytes: [UInt8], littleEndian: Bool = true) {
        self.bytes = bytes; self.littleEndian = littleEndian
    }

    /// Reads a copy of `data` with the given integer byte order.
    public init(_ data: Data, littleEndian: Bool = true) {
        self.init([UInt8](data), littleEndian: littleEndian)
    }

    /// The number of bytes.
    public var count: Int { bytes.count }

    /// `offset..<offset+length` when both are non-negative, the sum does not overflow and the range
    /// lies within `0..<count`; otherwise `nil`.
    public static func range(offset: Int, length: Int, within count: Int) -> Range<Int>? {
        guard offset >= 0, length >= 0, offset <= count, length <= count - offset else { return nil }
        return offset..<(offset + length)
    }

    /// The same check for offsets and lengths of any integer type (e.g. `UInt64` file fields):
    /// values that do not fit in `Int` yield `nil` instead of trapping in a conversion.
    public static func range<O: BinaryInteger, L: BinaryInteger>(offset: O, length: L, within count: Int) -> Range<Int>? {
        guard let o = Int(exactly: offset), let l = Int(exactly: length) else { return nil }
        return range(offset: o, length: l, within: count)
    }

    /// `a + b`, or `nil` on overflow.
    public static func add(_ a: Int, _ b: Int) -> Int? {
        let (r, o) = a.addingReportingOverflow(b)
        return o ? nil : r
    }

    /// `a * b`, or `nil` on overflow.
    public static func multiply(_ a: Int, _ b: Int) -> Int? {
        let (r, o) = a.multipliedReportingOverflow(by: b)
        return o ? nil : r
    }

    /// `n` rounded up to a multiple of `block` (> 0), or `nil` when `n` is negative or the result
    /// overflows.
    public static func roundUp(_ n: Int, toMultipleOf block: Int) -> Int? {
        guard n >= 0, block > 0, let s = add(n, block - 1) else { return nil }
        return s / block * block
    }

    /// The range `offset..<offset+length` of these bytes, or `nil` when it is out of bounds.
    public func range<O: BinaryInteger, L: BinaryInteger>(_ offset: O, _ length: L) -> Range<Int>? {
        Self.range(offset: offset, length: length, within: count)
    }

    /// The bytes at `offset..<offset+length`, or `nil` when out of bounds.
    public func slice<O: BinaryInteger, L: BinaryInteger>(_ offset: O, _ length: L) -> ArraySlice<UInt8>? {
        range(offset, length).map { bytes[$0] }
    }

    /// An unsigned integer of `size` bytes (1...8) at `offset` in `littleEndian` order.
    public func uint<O: BinaryInteger>(_ offset: O, size: Int) -> UInt64? {
        guard size >= 1, size <= 8, let r = range(offset, size) else { return nil }
        var v: UInt64 = 0
        for i in 0..<size {
            let b = bytes[r.lowerBound + (littleEndian ? i : size - 1 - i)]
            v |= UInt64(b) << (8 * UInt64(i))
        }
        return v
    }

    /// A 16-bit unsigned integer at `offset`.
    public func u16<O: BinaryInteger>(_ offset: O) -> UInt16? { uint(offset, size: 2).map { UInt16($0) } }
    /// A 32-bit unsigned integer at `offset`.
    public func u32<O: BinaryInteger>(_ offset: O) -> UInt32? { uint(offset, size: 4).map { UInt32($0) } }
    /// A 64-bit unsigned integer at `offset`.
    public func u64<O: BinaryInteger>(_ offset: O) -> UInt64? { uint(offset, size: 8) }

    /// The NUL-terminated string starting at `offset`, searched no further than `end` (exclusive,
    /// clamped to `count`); `nil` when `offset` is out of bounds or no NUL occurs before `end`.
    public func cString<O: BinaryInteger>(_ offset: O, end: Int) -> String? {
        guard let o = Int(exactly: offset), o >= 0, o < count else { return nil }
        let stop = min(count, end)
        var i = o
        while i < stop && bytes[i] != 0 { i += 1 }
        guard i < stop else { return nil }
        return String(decoding: bytes[o..<i], as: UTF8.self)
    }
}
