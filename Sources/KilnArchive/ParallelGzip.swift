import CZlib
import Foundation

/// pigz-style gzip: the input is cut into fixed blocks, each raw-deflated independently (with the
/// previous block's last 32 KiB as dictionary, sync-flushed, the last one finished) and CRCs are
/// combined. The result is ONE valid gzip member whose bytes depend only on input, level and block
/// size — never on the number of threads.
public final class ParallelGzipSink: ByteSink {
    public static let defaultBlockSize = 128 << 10
    static let dictionarySize = 32 << 10

    private let next: ByteSink
    private let level: Int32
    private let blockSize: Int
    private let pool: DeflatePool?
    private let inline: BlockDeflater?
    private var current: [UInt8]
    private var fill = 0
    private var dictionary = [UInt8]()
    private var submitted = 0, emitted = 0
    private let maxInFlight: Int
    private var crc: uLong = crc32(0, nil, 0)
    private var total: UInt64 = 0
    private var finished = false
    public var bytesIn: UInt64 { total }

    public init(_ next: ByteSink, level: Int = 6, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                blockSize: Int = ParallelGzipSink.defaultBlockSize) throws {
        guard blockSize >= ParallelGzipSink.dictionarySize else {
            throw ArchiveError.zlib(context: "parallel gzip", code: Z_STREAM_ERROR, message: "block size below 32 KiB")
        }
        self.next = next
        self.level = try checkLevel(level)
        self.blockSize = blockSize
        current = ParallelGzipSink.block(blockSize)
        let n = max(1, threads)
        pool = n > 1 ? DeflatePool(threads: n, level: self.level) : nil
        inline = n > 1 ? nil : try BlockDeflater(level: self.level)
        maxInFlight = n * 4
        let xfl: UInt8 = level == 9 ? 2 : (level < 2 ? 4 : 0)
        try next.write([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 3])
    }

    deinit { pool?.stop() }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !finished else { throw ArchiveError.zlib(context: "parallel gzip", code: Z_STREAM_ERROR, message: "write after finish") }
        var off = 0
        while off < bytes.count {
            if fill == blockSize { try submit(last: false) }
            let n = min(blockSize - fill, bytes.count - off)
            current.withUnsafeMutableBytes { dst in
                (dst.baseAddress! + fill).copyMemory(from: bytes.baseAddress! + off, byteCount: n)
            }
            fill += n
            off += n
        }
    }

    /// Writes the last block and the trailer; does not close the next sink.
    public func finish() throws {
        guard !finished else { return }
        finished = true
        try submit(last: true)
        while emitted < submitted { try emit(wait: true) }
        pool?.stop()
        var trailer = [UInt8]()
        for v in [UInt32(truncatingIfNeeded: crc), UInt32(truncatingIfNeeded: total)] {
            trailer += [UInt8(v & 0xff), UInt8((v >> 8) & 0xff), UInt8((v >> 16) & 0xff), UInt8(v >> 24)]
        }
        try next.write(trailer)
    }

    public func close() throws {
        try finish()
        try next.close()
    }

    private func submit(last: Bool) throws {
        let job = DeflateJob(index: submitted, input: current, count: fill, dictionary: dictionary, last: last)
        let d = min(fill, ParallelGzipSink.dictionarySize)
        dictionary = current.withUnsafeBytes { src in
            [UInt8](unsafeUninitializedCapacity: d) { buf, n in
                UnsafeMutableRawPointer(buf.baseAddress!).copyMemory(from: src.baseAddress! + fill - d, byteCount: d)
                n = d
            }
        }
        current = ParallelGzipSink.block(blockSize)
        fill = 0
        submitted += 1
        if let inline {
            try write(result: inline.run(job), length: job.count)
            emitted += 1
            return
        }
        pool!.submit(job)
        // write out whatever is ready; block only when too many blocks are in flight
        while emitted < submitted {
            if try !emit(wait: submitted - emitted >= maxInFlight) { break }
        }
    }

    /// Writes the next block in order if ready (or waits for it). Returns whether one was written.
    @discardableResult
    private func emit(wait: Bool) throws -> Bool {
        guard emitted < submitted, let pool else { return false }
        guard let r = pool.take(emitted, wait: wait) else { return false }
        emitted += 1
        try write(result: r.output.get(), length: r.length)
        return true
    }

    /// An uninitialized (not zeroed) block buffer.
    static func block(_ size: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: size) { _, n in n = size }
    }

    private func write(result: (output: Data, crc: uLong), length: Int) throws {
        try next.write(result.output)
        crc = crc32_combine(crc, result.crc, off_t(length))
        total += UInt64(length)
    }
}

struct DeflateJob {
    let index: Int
    let input: [UInt8]
    let count: Int          // bytes of input used
    let dictionary: [UInt8]
    let last: Bool
}

/// One raw-deflate stream, reset per block.
final class BlockDeflater {
    let z = ZStream()
    init(level: Int32) throws {
        let r = deflateInit2_(z.p, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard r == Z_OK else { throw ArchiveError.zlib(context: "parallel gzip", code: r, message: z.message) }
    }
    deinit { deflateEnd(z.p) }

    func run(_ job: DeflateJob) throws -> (output: Data, crc: uLong) {
        deflateReset(z.p)
        if !job.dictionary.isEmpty {
            let r = job.dictionary.withUnsafeBufferPointer { deflateSetDictionary(z.p, $0.baseAddress, uInt($0.count)) }
            guard r == Z_OK else { throw ArchiveError.zlib(context: "parallel gzip", code: r, message: z.message) }
        }
        var out = Data(count: Int(deflateBound(z.p, uLong(job.count))) + 64)
        var produced = 0
        let flush = job.last ? Z_FINISH : Z_SYNC_FLUSH
        let crc: uLong = try job.input.withUnsafeBufferPointer { inp in
            z.p.pointee.next_in = UnsafeMutablePointer(mutating: inp.baseAddress)
            z.p.pointee.avail_in = uInt(job.count)
            while true {
                if produced == out.count { out.count += 1 << 16 }
                let r: Int32 = out.withUnsafeMutableBytes { o in
                    z.p.pointee.next_out = o.baseAddress!.assumingMemoryBound(to: UInt8.self) + produced
                    z.p.pointee.avail_out = uInt(o.count - produced)
                    let r = deflate(z.p, flush)
                    produced = o.count - Int(z.p.pointee.avail_out)
                    return r
                }
                if job.last ? r == Z_STREAM_END : (r == Z_OK && z.p.pointee.avail_out > 0) { break }
                if r != Z_OK && r != Z_BUF_ERROR { throw ArchiveError.zlib(context: "parallel gzip", code: r, message: z.message) }
            }
            return crc32(0, inp.baseAddress, uInt(job.count))
        }
        out.count = produced
        return (out, crc)
    }
}

/// Worker threads, each with its own deflate stream; results are collected by block index.
final class DeflatePool: @unchecked Sendable {
    private let cond = NSCondition()
    private var queue: [DeflateJob] = []
    private var head = 0
    typealias Done = (output: Result<(output: Data, crc: uLong), Error>, length: Int)
    private var results: [Int: Done] = [:]
    private var stopping = false

    init(threads: Int, level: Int32) {
        for _ in 0..<threads {
            let t = Thread { [self] in self.work(level: level) }
            t.stackSize = 1 << 20
            t.start()
        }
    }

    func submit(_ job: DeflateJob) {
        cond.lock()
        queue.append(job)
        cond.signal()
        cond.unlock()
    }

    func take(_ index: Int, wait: Bool) -> Done? {
        cond.lock(); defer { cond.unlock() }
        while results[index] == nil {
            if !wait { return nil }
            cond.wait()
        }
        return results.removeValue(forKey: index)
    }

    func stop() {
        cond.lock()
        stopping = true
        cond.broadcast()
        cond.unlock()
    }

    private func work(level: Int32) {
        let deflater = try? BlockDeflater(level: level)
        while true {
            cond.lock()
            while head == queue.count && !stopping { cond.wait() }
            if head == queue.count { cond.unlock(); return }
            let job = queue[head]
            head += 1
            if head > 64 { queue.removeFirst(head); head = 0 }
            cond.unlock()
            let r: Done
            if let deflater {
                r = (Result { try deflater.run(job) }, job.count)
            } else {
                r = (.failure(ArchiveError.zlib(context: "parallel gzip", code: Z_MEM_ERROR, message: "cannot start deflate")), 0)
            }
            cond.lock()
            results[job.index] = r
            cond.broadcast()
            cond.unlock()
        }
    }
}

extension Gzip {
    /// pigz-like compression into one gzip member; the bytes are the same for any thread count.
    public static func compressParallel(_ data: Data, level: Int, threads: Int) throws -> Data {
        let sink = DataSink()
        let gz = try ParallelGzipSink(sink, level: level, threads: threads)
        try gz.write(data)
        try gz.finish()
        return sink.data
    }
}
