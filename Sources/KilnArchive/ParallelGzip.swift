import CZlib
import Foundation
import KilnCore

/// pigz-style gzip on several cores: the input is cut into fixed 128 KiB blocks, each block is
/// deflated on its own (raw deflate primed with the previous block's last 32 KiB as dictionary,
/// ended with a sync flush so it ends on a byte boundary; the last block with Z_FINISH), and the
/// blocks are joined into ONE gzip member (no name, mtime 0, OS unix) with the CRC-32 combined.
/// Block boundaries depend only on the input, so the bytes are the same for any thread count.
public final class ParallelGzipSink: ByteSink {
    public static let blockSize = 128 * 1024
    static let dictSize = 32 * 1024

    private let next: ByteSink
    private let level: Int32
    private let threads: Int
    private var pending = Data()
    private var previousTail = Data()
    private var nextIndex = 0
    private var nextToWrite = 0
    private var crc: uLong = 0
    private var total: UInt64 = 0
    private var headerWritten = false
    private var closed = false
    public private(set) var bytesIn: Int64 = 0

    private let lock = NSLock()
    private var results: [Int: (data: Data, crc: uLong, length: Int)] = [:]
    private var failure: String?
    private let limit: Int
    private let completed = DispatchSemaphore(value: 0)
    private let running: DispatchSemaphore
    private let queue = DispatchQueue(label: "kiln.pgzip", attributes: .concurrent)
    private let group = DispatchGroup()

    /// `threads` = 0 means one per active core.
    public init(_ next: ByteSink, level: Int = 6, threads: Int = 0) throws {
        guard (0...9).contains(level) else { throw KilnMessage("gzip: compression level \(level) is not in 0...9") }
        self.next = next
        self.level = Int32(level)
        let t = threads > 0 ? threads : max(1, ProcessInfo.processInfo.activeProcessorCount)
        self.threads = t
        limit = t * 4
        running = DispatchSemaphore(value: t)
        pending.reserveCapacity(Self.blockSize)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !closed else { throw KilnMessage("gzip: write after close") }
        var off = 0
        bytesIn += Int64(bytes.count)
        while off < bytes.count {
            if pending.count == Self.blockSize {
                // More input follows, so the pending block is not the last one.
                try submit(last: false)
            }
            let n = min(Self.blockSize - pending.count, bytes.count - off)
            pending.append(bytes.baseAddress!.assumingMemoryBound(to: UInt8.self) + off, count: n)
            off += n
        }
        try drain(wait: false)
    }

    /// Writes the last block and the trailer; does not close `next`.
    public func finish() throws {
        guard !closed else { return }
        try submit(last: true)
        group.wait()
        try drain(wait: true)
        var trailer = [UInt8](repeating: 0, count: 8)
        let c = UInt32(truncatingIfNeeded: crc), s = UInt32(truncatingIfNeeded: total)
        for i in 0..<4 { trailer[i] = UInt8((c >> (8 * UInt32(i))) & 0xff); trailer[4 + i] = UInt8((s >> (8 * UInt32(i))) & 0xff) }
        try trailer.withUnsafeBytes { try next.write($0) }
        closed = true
    }

    public func close() throws {
        try finish()
        try next.close()
    }

    private func submit(last: Bool) throws {
        if let f = lock.withLock({ failure }) { throw KilnMessage(f) }
        let input = pending
        let dict = previousTail
        let index = nextIndex
        nextIndex += 1
        previousTail = input.count >= Self.dictSize ? input.suffix(Self.dictSize) : (dict + input).suffix(Self.dictSize)
        pending = Data()
        pending.reserveCapacity(Self.blockSize)
        let level = self.level
        // Bound the blocks in flight: write out finished ones, else wait for one to finish.
        while nextIndex - 1 - nextToWrite >= limit {
            try drain(wait: false)
            if nextIndex - 1 - nextToWrite >= limit { completed.wait() }
        }
        group.enter()
        queue.async { [self] in
            running.wait()
            let r = Self.deflateBlock(input, dictionary: dict, level: level, last: last)
            running.signal()
            lock.withLock {
                switch r {
                case .success(let out):
                    let c = input.withUnsafeBytes { crc32(0, $0.baseAddress?.assumingMemoryBound(to: Bytef.self), uInt($0.count)) }
                    results[index] = (out, c, input.count)
                case .failure(let e): failure = failure ?? e.message
                }
            }
            completed.signal()
            group.leave()
        }
    }

    private func drain(wait: Bool) throws {
        if !headerWritten {
            // zlib's XFL: 2 = best compression, 4 = fastest.
            let xfl: UInt8 = level == 9 ? 2 : (level < 2 ? 4 : 0)
            let header: [UInt8] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 3]
            try header.withUnsafeBytes { try next.write($0) }
            headerWritten = true
        }
        while true {
            let r: (data: Data, crc: uLong, length: Int)? = lock.withLock {
                if let f = failure { _ = f; return nil }
                return results.removeValue(forKey: nextToWrite)
            }
            if let f = lock.withLock({ failure }) { throw KilnMessage(f) }
            guard let r else {
                if wait && nextToWrite < nextIndex {
                    throw KilnMessage("gzip: internal error, block \(nextToWrite) missing")
                }
                return
            }
            crc = crc32_combine(crc, r.crc, off_t(r.length))
            total &+= UInt64(r.length)
            try r.data.withUnsafeBytes { try next.write($0) }
            nextToWrite += 1
        }
    }

    static func deflateBlock(_ input: Data, dictionary: Data, level: Int32, last: Bool) -> Result<Data, KilnMessage> {
        var z = z_stream()
        var rc = deflateInit2_(&z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else { return .failure(KilnMessage("gzip: deflateInit2 failed (\(rc))")) }
        defer { deflateEnd(&z) }
        if !dictionary.isEmpty {
            rc = dictionary.withUnsafeBytes { deflateSetDictionary(&z, $0.baseAddress!.assumingMemoryBound(to: Bytef.self), uInt($0.count)) }
            guard rc == Z_OK else { return .failure(KilnMessage("gzip: deflateSetDictionary failed (\(rc))")) }
        }
        let bound = Int(deflateBound(&z, uLong(input.count))) + 64
        var out = Data(count: bound)
        var produced = 0
        rc = input.withUnsafeBytes { inp -> Int32 in
            out.withUnsafeMutableBytes { o -> Int32 in
                z.next_in = UnsafeMutablePointer(mutating: inp.baseAddress?.assumingMemoryBound(to: Bytef.self))
                z.avail_in = uInt(inp.count)
                z.next_out = o.baseAddress!.assumingMemoryBound(to: Bytef.self)
                z.avail_out = uInt(o.count)
                let r = deflate(&z, last ? Z_FINISH : Z_SYNC_FLUSH)
                produced = o.count - Int(z.avail_out)
                return r
            }
        }
        guard rc == (last ? Z_STREAM_END : Z_OK), z.avail_in == 0 else {
            return .failure(KilnMessage("gzip: deflate failed (\(rc))"))
        }
        out.count = produced
        return .success(out)
    }
}

extension Gzip {
    /// One gzip member compressed on `threads` cores (see ParallelGzipSink); bytes do not depend on `threads`.
    public static func compressParallelBlocks(_ data: Data, level: Int, threads: Int) throws -> Data {
        let sink = DataSink()
        let gz = try ParallelGzipSink(sink, level: level, threads: threads)
        try data.withUnsafeBytes { try gz.write($0) }
        try gz.finish()
        return sink.data
    }
}
