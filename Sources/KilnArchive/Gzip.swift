import CZlib
import Foundation

/// zlib's z_stream must not move while in use (zlib checks strm->state->strm == strm), so it
/// lives on the heap.
final class ZStream {
    let p: UnsafeMutablePointer<z_stream>
    init() {
        p = .allocate(capacity: 1)
        p.initialize(to: z_stream())
    }
    deinit { p.deinitialize(count: 1); p.deallocate() }
    var message: String { p.pointee.msg.map { String(cString: $0) } ?? "" }
}

func checkLevel(_ level: Int) throws -> Int32 {
    guard (0...9).contains(level) else {
        throw ArchiveError.zlib(context: "gzip", code: Z_STREAM_ERROR, message: "compression level \(level) is not in 0...9")
    }
    return Int32(level)
}

/// Writes one gzip member: no file name, MTIME 0, OS = 3 (unix) on every machine.
/// `finish()` writes the trailer; `close()` finishes and closes the next sink.
public final class GzipSink: ByteSink {
    private let next: ByteSink
    private let z = ZStream()
    private let header: UnsafeMutablePointer<gz_header>
    private var out = [UInt8](repeating: 0, count: 1 << 16)
    private var finished = false
    public private(set) var bytesIn: Int64 = 0

    public init(_ next: ByteSink, level: Int = 9) throws {
        self.next = next
        header = .allocate(capacity: 1)
        header.initialize(to: gz_header())
        header.pointee.os = 3
        let lvl = try checkLevel(level)
        var r = deflateInit2_(z.p, lvl, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        if r == Z_OK { r = deflateSetHeader(z.p, header) }
        guard r == Z_OK else { throw ArchiveError.zlib(context: "gzip", code: r, message: z.message) }
    }

    deinit {
        deflateEnd(z.p)
        header.deinitialize(count: 1); header.deallocate()
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !finished else { throw ArchiveError.zlib(context: "gzip", code: Z_STREAM_ERROR, message: "write after finish") }
        guard bytes.count > 0 else { return }
        bytesIn += Int64(bytes.count)
        z.p.pointee.next_in = UnsafeMutablePointer(mutating: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
        z.p.pointee.avail_in = uInt(bytes.count)
        try run(Z_NO_FLUSH)
    }

    public func finish() throws {
        guard !finished else { return }
        z.p.pointee.next_in = nil
        z.p.pointee.avail_in = 0
        try run(Z_FINISH)
        finished = true
    }

    public func close() throws {
        try finish()
        try next.close()
    }

    private func run(_ flush: Int32) throws {
        while true {
            let (r, produced): (Int32, Int) = out.withUnsafeMutableBytes { o in
                z.p.pointee.next_out = o.baseAddress!.assumingMemoryBound(to: UInt8.self)
                z.p.pointee.avail_out = uInt(o.count)
                let r = deflate(z.p, flush)
                return (r, o.count - Int(z.p.pointee.avail_out))
            }
            if r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR {
                throw ArchiveError.zlib(context: "gzip", code: r, message: z.message)
            }
            if produced > 0 { try out.withUnsafeBytes { try next.write(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) } }
            if flush == Z_FINISH { if r == Z_STREAM_END { return } } else if z.p.pointee.avail_in == 0 && produced < out.count { return }
        }
    }
}

public enum Gzip {
    /// One gzip member (no name, mtime 0, OS unix); identical bytes on every run.
    public static func compress(_ data: Data, level: Int = 9) throws -> Data {
        let sink = DataSink()
        let gz = try GzipSink(sink, level: level)
        try gz.write(data)
        try gz.finish()
        return sink.data
    }

    /// Decompresses all members, concatenated (no limit: for kiln's own, trusted output).
    public static func decompress(_ data: Data) throws -> Data { try decompress(data, limit: nil) }

    /// Decompresses all members, concatenated, refusing a member that inflates beyond `limit`.
    public static func decompress(_ data: Data, limit: Int?) throws -> Data {
        var out = Data()
        _ = try inflateMembers(data, limit: limit) { out.append(contentsOf: $0) }
        return out
    }

    /// Decompresses all members, concatenated, refusing input that inflates beyond `totalLimit` in
    /// all (an image layer is many members; `ArchiveLimits.maxInflatedLayerBytes`).
    public static func decompress(_ data: Data, totalLimit: Int) throws -> Data {
        var out = Data()
        _ = try inflateMembers(data, totalLimit: totalLimit) { out.append(contentsOf: $0) }
        return out
    }

    /// Decompresses all members into one malloc'd buffer (grown in place, never copied into a second one).
    static func decompressToBuffer(_ data: Data) throws -> InflatedBuffer {
        let out = InflatedBuffer()
        _ = try inflateMembers(data) { try out.append($0) }
        return out
    }

    /// Compressed byte range of each gzip member (APK hashes and signs member bytes).
    public static func memberRanges(_ data: Data) throws -> [Range<Int>] { try memberRanges(data, limit: nil) }

    /// Compressed byte range of each gzip member, refusing a member that inflates beyond `limit`.
    public static func memberRanges(_ data: Data, limit: Int?) throws -> [Range<Int>] {
        try inflateMembers(data, limit: limit) { _ in }
    }

    /// The error for a gzip stream (all members) that inflates beyond `limit` bytes (what
    /// `GzipMemberReader.inflateAll` and `decompress(_:totalLimit:)` throw, for callers that tell it apart).
    public static func streamTooLarge(_ limit: Int) -> ArchiveError {
        .corrupt(context: "gunzip", reason: "the gzip stream inflates to more than \(limit) bytes (the decompression limit for layers; see KILN_MAX_INFLATED_LAYER_BYTES)")
    }

    /// Whether `data` starts with the gzip magic.
    public static func isGzip(_ data: Data) -> Bool {
        data.count >= 2 && data[data.startIndex] == 0x1f && data[data.startIndex + 1] == 0x8b
    }

    static func inflateMembers(_ data: Data, limit: Int? = nil, totalLimit: Int? = nil, _ output: (UnsafeRawBufferPointer) throws -> Void) throws -> [Range<Int>] {
        guard !data.isEmpty else { throw ArchiveError.corrupt(context: "gunzip", reason: "empty input is not gzip data") }
        let z = ZStream()
        var r = inflateInit2_(z.p, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard r == Z_OK else { throw ArchiveError.zlib(context: "gunzip", code: r, message: z.message) }
        defer { inflateEnd(z.p) }
        var ranges: [Range<Int>] = []
        var out = [UInt8](repeating: 0, count: 1 << 18)
        try data.withUnsafeBytes { (input: UnsafeRawBufferPointer) in
            let base = input.baseAddress!.assumingMemoryBound(to: UInt8.self)
            var start = 0
            var memberOut = 0, totalOut = 0
            z.p.pointee.next_in = UnsafeMutablePointer(mutating: base)
            z.p.pointee.avail_in = uInt(input.count)
            while start < input.count {
                let produced: Int = out.withUnsafeMutableBytes { o in
                    z.p.pointee.next_out = o.baseAddress!.assumingMemoryBound(to: UInt8.self)
                    z.p.pointee.avail_out = uInt(o.count)
                    r = inflate(z.p, Z_NO_FLUSH)
                    return o.count - Int(z.p.pointee.avail_out)
                }
                memberOut += produced
                totalOut += produced
                if let limit, memberOut > limit {
                    throw ArchiveError.corrupt(context: "gunzip", reason: "the gzip member at byte \(start) inflates to more than \(limit) bytes (the decompression limit; see KILN_MAX_INFLATED_BYTES)")
                }
                if let totalLimit, totalOut > totalLimit {
                    throw Gzip.streamTooLarge(totalLimit)
                }
                if produced > 0 { try out.withUnsafeBytes { try output(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) } }
                let consumed = input.count - Int(z.p.pointee.avail_in)
                switch r {
                case Z_STREAM_END:
                    ranges.append(start..<consumed)
                    start = consumed
                    memberOut = 0
                    inflateReset(z.p)
                case Z_OK: continue
                case Z_BUF_ERROR:
                    throw ArchiveError.corrupt(context: "gunzip", reason: "truncated gzip member at byte \(start)")
                default:
                    throw ArchiveError.zlib(context: "gunzip: member at byte \(start)", code: r, message: z.message)
                }
            }
        }
        return ranges
    }
}

/// Inflated bytes in memory kiln owns (malloc'd, freed with the object), so a reader can use them in
/// place: `Data(bytesNoCopy:)` and libarchive's memory reader both see this one copy.
final class InflatedBuffer {
    private(set) var base: UnsafeMutableRawPointer
    private(set) var count = 0
    private var capacity = 1 << 20

    init() { base = malloc(capacity)! }
    deinit { free(base) }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        if count + bytes.count > capacity {
            while count + bytes.count > capacity { capacity *= 2 }
            guard let p = realloc(base, capacity) else {
                throw ArchiveError.corrupt(context: "gunzip", reason: "out of memory inflating \(capacity) bytes")
            }
            base = p
        }
        (base + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        count += bytes.count
    }
}
