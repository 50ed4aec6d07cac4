import CZlib
import Foundation

/// Reads a (multi-member) gzip stream one member at a time from a file or from memory, holding only
/// two 256 KiB buffers: each member's compressed bytes and its inflated bytes are handed to the
/// caller as they pass (APK readers hash and sign member bytes, then parse the inflated tar). A
/// member that inflates beyond the caller's limit is refused while inflating, before any of it is used.
public final class GzipMemberReader {
    /// Fills the buffer with the next input bytes; returns 0 at the end.
    typealias Source = (UnsafeMutableRawBufferPointer) throws -> Int

    private let source: Source
    private let closeSource: () -> Void
    private let z = ZStream()
    private let input = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 18, alignment: 16)
    private let output = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 18, alignment: 16)
    private var head = 0, tail = 0
    /// Input bytes consumed so far (the offset of the next member once one has ended).
    public private(set) var offset = 0

    init(source: @escaping Source, close: @escaping () -> Void = {}) throws {
        self.source = source
        closeSource = close
        let r = inflateInit2_(z.p, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard r == Z_OK else {
            input.deallocate(); output.deallocate()
            throw ArchiveError.zlib(context: "gunzip", code: r, message: z.message)
        }
    }

    /// Over the file at `path` (read sequentially, never whole).
    public convenience init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ArchiveError.io(path: path, what: "cannot open", errno: errno) }
        try self.init(source: { buf in
            while true {
                let n = read(fd, buf.baseAddress, buf.count)
                if n >= 0 { return n }
                if errno != EINTR { throw ArchiveError.io(path: path, what: "cannot read", errno: errno) }
            }
        }, close: { _ = Foundation.close(fd) })
    }

    /// Over bytes in memory (copied through the input buffer a piece at a time).
    public convenience init(data: Data) throws {
        var pos = data.startIndex
        try self.init(source: { buf in
            let n = min(buf.count, data.endIndex - pos)
            if n > 0 { data.copyBytes(to: buf.baseAddress!.assumingMemoryBound(to: UInt8.self), from: pos..<(pos + n)) }
            pos += n
            return n
        })
    }

    deinit {
        inflateEnd(z.p)
        closeSource()
        input.deallocate(); output.deallocate()
    }

    private func refill() throws {
        guard head == tail else { return }
        head = 0
        tail = try source(input)
    }

    /// Whether the input has no more bytes (reads ahead when needed).
    public func atEnd() throws -> Bool {
        try refill()
        return head == tail
    }

    /// Inflates the next member: its compressed bytes go to `compressed`, its output to `inflated`.
    /// Returns the member's byte range in the input. Errors read like `Gzip.decompress`'s.
    @discardableResult
    public func nextMember(limit: Int?, compressed: (UnsafeRawBufferPointer) throws -> Void = { _ in },
                           inflated: (UnsafeRawBufferPointer) throws -> Void) throws -> Range<Int> {
        let start = offset
        inflateReset(z.p)
        var memberOut = 0
        while true {
            try refill()
            if head == tail { throw ArchiveError.corrupt(context: "gunzip", reason: "truncated gzip member at byte \(start)") }
            let avail = tail - head
            z.p.pointee.next_in = (input.baseAddress! + head).assumingMemoryBound(to: UInt8.self)
            z.p.pointee.avail_in = uInt(avail)
            z.p.pointee.next_out = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
            z.p.pointee.avail_out = uInt(output.count)
            let r = inflate(z.p, Z_NO_FLUSH)
            let used = avail - Int(z.p.pointee.avail_in)
            let produced = output.count - Int(z.p.pointee.avail_out)
            if used > 0 { try compressed(UnsafeRawBufferPointer(start: input.baseAddress! + head, count: used)) }
            head += used
            offset += used
            memberOut += produced
            if let limit, memberOut > limit {
                throw ArchiveError.corrupt(context: "gunzip", reason: "the gzip member at byte \(start) inflates to more than \(limit) bytes (the decompression limit; see KILN_MAX_INFLATED_BYTES)")
            }
            if produced > 0 { try inflated(UnsafeRawBufferPointer(start: output.baseAddress!, count: produced)) }
            switch r {
            case Z_STREAM_END: return start..<offset
            case Z_OK: continue
            case Z_BUF_ERROR where head == tail: continue      // needs more input
            case Z_BUF_ERROR: throw ArchiveError.corrupt(context: "gunzip", reason: "truncated gzip member at byte \(start)")
            default: throw ArchiveError.zlib(context: "gunzip: member at byte \(start)", code: r, message: z.message)
            }
        }
    }

    /// Inflates every member to the end of the input, as one stream (an image layer is many members),
    /// refusing input that inflates beyond `totalLimit` bytes in all before the bytes over it are
    /// handed on (`ArchiveLimits.maxInflatedLayerBytes`; errors read like `Gzip.decompress(_:totalLimit:)`'s).
    public func inflateAll(totalLimit: Int, compressed: (UnsafeRawBufferPointer) throws -> Void = { _ in },
                           inflated: (UnsafeRawBufferPointer) throws -> Void) throws {
        var total = 0
        while try !atEnd() {
            try nextMember(limit: nil, compressed: compressed) { piece in
                total += piece.count
                if total > totalLimit { throw Gzip.streamTooLarge(totalLimit) }
                try inflated(piece)
            }
        }
    }
}
