import CDeflate
import Foundation

/// Image-layer gzip on libdeflate: the input is cut into fixed-size chunks (default 1 MiB) and each
/// chunk becomes one complete gzip member (no name, MTIME 0, OS unix, its own CRC-32 and size), the
/// members written in input order. RFC 1952 §2.2 defines a gzip file as a series of members and every
/// layer consumer reads them as one stream (Go's compress/gzip and pgzip — containerd, skopeo, umoci —,
/// GNU gzip, zlib's gunzip, Python's gzip, libarchive; eStargz layers rely on the same property;
/// `LayerConsumersTests` checks the real tools). One member per chunk is the framing libdeflate allows:
/// it has no streaming API and ends every buffer with a final block, so chunks cannot be joined into
/// one deflate stream. The bytes depend only on the input, the level, the chunk size and the
/// libdeflate version — never on the number of threads.
public final class ParallelGzipSink: ByteSink {
    /// Default chunk size: large enough that the lost 32 KiB window per chunk costs ≈0.5 % of size,
    /// small enough for two cores to share a 10 MB layer.
    public static let defaultChunkSize = 1 << 20
    /// libdeflate's levels: 0 stores, 1 fastest … 12 slowest.
    public static let levels = 0...12

    private let next: ByteSink
    private let chunkSize: Int
    private let pool: ChunkPool?
    private let inline: ChunkCompressor?
    private let maxInFlight: Int
    /// Chunk inputs and member outputs are reused, never reallocated per chunk: a fresh 1 MiB array
    /// per chunk cost page faults and page zeroing on every chunk (≈ 5 % of a layer's CPU time).
    private let inputs: BufferRecycler
    private let outputs: BufferRecycler
    private var current: [UInt8]
    private var fill = 0
    private var submitted = 0, emitted = 0
    private var finished = false
    /// Uncompressed bytes written so far.
    public private(set) var bytesIn: UInt64 = 0

    /// `threads` ≤ 1 compresses on the caller's thread; more start that many worker threads.
    public init(_ next: ByteSink, level: Int = 6, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                chunkSize: Int = ParallelGzipSink.defaultChunkSize) throws {
        guard ParallelGzipSink.levels.contains(level) else {
            throw ArchiveError.corrupt(context: "gzip", reason: "compression level \(level) is not in 0...12 (libdeflate's range)")
        }
        guard chunkSize >= 1 << 12, chunkSize <= 1 << 28 else {
            throw ArchiveError.corrupt(context: "gzip", reason: "chunk size \(chunkSize) is not in 4 KiB...256 MiB")
        }
        self.next = next
        self.chunkSize = chunkSize
        let n = max(1, threads)
        maxInFlight = n * 3
        let first = try ChunkCompressor(level: Int32(level))
        inputs = BufferRecycler(size: chunkSize, keep: maxInFlight + 2)
        outputs = BufferRecycler(size: first.memberBound(chunkSize), keep: maxInFlight + 2)
        current = inputs.take()
        pool = n > 1 ? ChunkPool(compressors: [first] + (try (1..<n).map { _ in try ChunkCompressor(level: Int32(level)) }),
                                 inputs: inputs, outputs: outputs) : nil
        inline = n > 1 ? nil : first
    }

    deinit { pool?.stop() }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !finished else { throw ArchiveError.corrupt(context: "gzip", reason: "write after finish") }
        var off = 0
        while off < bytes.count {
            if fill == chunkSize { try submit() }
            let n = min(chunkSize - fill, bytes.count - off)
            current.withUnsafeMutableBytes { dst in
                (dst.baseAddress! + fill).copyMemory(from: bytes.baseAddress! + off, byteCount: n)
            }
            fill += n
            off += n
        }
        bytesIn += UInt64(bytes.count)
    }

    /// Writes the last chunk (an empty member if nothing was written) and waits for every member;
    /// does not close the next sink.
    public func finish() throws {
        guard !finished else { return }
        finished = true
        if fill > 0 || submitted == 0 { try submit() }
        while emitted < submitted { try emit(wait: true) }
        pool?.stop()
    }

    public func close() throws {
        try finish()
        try next.close()
    }

    private func submit() throws {
        var input = inputs.take()
        swap(&input, &current)                      // `input` is now the only reference: no copy below
        let job = ChunkJob(index: submitted, input: input, count: fill)
        fill = 0
        submitted += 1
        if let inline {
            var out = outputs.take()
            let n = try inline.member(job, into: &out)
            inputs.give(job.input)
            try write(member: out, length: n)
            emitted += 1
            return
        }
        pool!.submit(job)
        // Write whatever is ready, in order; block only when too many chunks are in flight.
        while emitted < submitted {
            if try !emit(wait: submitted - emitted >= maxInFlight) { break }
        }
    }

    /// Writes the next member in order if it is ready (or waits for it). Returns whether it did.
    @discardableResult
    private func emit(wait: Bool) throws -> Bool {
        guard emitted < submitted, let pool, let member = pool.take(emitted, wait: wait) else { return false }
        emitted += 1
        let (out, n) = try member.get()
        try write(member: out, length: n)
        return true
    }

    /// Writes the first `length` bytes of a member buffer on, then returns the buffer for reuse.
    private func write(member out: [UInt8], length: Int) throws {
        try out.withUnsafeBytes { try next.write(UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
        outputs.give(out)
    }

    /// An uninitialized (not zeroed) buffer of `size` bytes.
    static func buffer(_ size: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: size) { _, n in n = size }
    }
}

/// The first `count` bytes of `input` are chunk number `index`.
struct ChunkJob: Sendable {
    let index: Int
    let input: [UInt8]
    let count: Int
}

/// A free list of equal-sized byte buffers shared by the writer and the workers; keeps at most
/// `keep` (the rest are freed). Every access holds `lock` (hence `@unchecked Sendable`).
final class BufferRecycler: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [[UInt8]] = []
    private let size: Int, keep: Int

    init(size: Int, keep: Int) { self.size = size; self.keep = keep }

    /// A buffer of `size` bytes (contents unspecified).
    func take() -> [UInt8] {
        lock.lock()
        let b = free.popLast()
        lock.unlock()
        return b ?? ParallelGzipSink.buffer(size)
    }

    /// Returns a buffer for reuse; the caller drops its reference.
    func give(_ b: [UInt8]) {
        guard b.count == size else { return }
        lock.lock()
        if free.count < keep { free.append(b) }
        lock.unlock()
    }
}

/// One libdeflate compressor (not thread-safe: one per thread) turning a chunk into a gzip member.
final class ChunkCompressor {
    private let c: OpaquePointer
    private let xfl: UInt8

    init(level: Int32) throws {
        guard let c = libdeflate_alloc_compressor(level) else {
            throw ArchiveError.corrupt(context: "gzip", reason: "libdeflate cannot allocate a level-\(level) compressor (out of memory?)")
        }
        self.c = c
        xfl = level < 2 ? 4 : (level >= 8 ? 2 : 0)   // RFC 1952 XFL: 4 fastest, 2 slowest, as libdeflate sets it
    }

    deinit { libdeflate_free_compressor(c) }

    /// The largest member a chunk of `chunkSize` bytes can become.
    func memberBound(_ chunkSize: Int) -> Int { 10 + libdeflate_deflate_compress_bound(c, chunkSize) + 8 }

    /// Writes header (10 bytes) ‖ raw deflate ‖ CRC-32 ‖ ISIZE (little-endian) for the job's bytes into
    /// `out` (at least `memberBound` bytes long); returns the member's length.
    func member(_ job: ChunkJob, into out: inout [UInt8]) throws -> Int {
        let bound = libdeflate_deflate_compress_bound(c, job.count)
        guard out.count >= 10 + bound + 8, job.count <= job.input.count else {
            throw ArchiveError.corrupt(context: "gzip", reason: "chunk buffer smaller than libdeflate's bound")
        }
        let length = job.input.withUnsafeBytes { inp in
            out.withUnsafeMutableBytes { buf -> Int in
                let o = buf.baseAddress!.assumingMemoryBound(to: UInt8.self)
                let header: [UInt8] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 3]
                for i in 0..<10 { o[i] = header[i] }
                let n = libdeflate_deflate_compress(c, inp.baseAddress, job.count, o + 10, bound)
                guard n > 0 else { return 0 }
                let crc = libdeflate_crc32(0, inp.baseAddress, job.count)
                let size = UInt32(truncatingIfNeeded: job.count)
                for i in 0..<4 {
                    o[10 + n + i] = UInt8(truncatingIfNeeded: crc >> (8 * i))
                    o[14 + n + i] = UInt8(truncatingIfNeeded: size >> (8 * i))
                }
                return 10 + n + 8
            }
        }
        // Cannot happen within the bound libdeflate itself gives; refuse rather than write a bad member.
        if length == 0 { throw ArchiveError.corrupt(context: "gzip", reason: "libdeflate output exceeded its own bound") }
        return length
    }
}

/// Worker threads, each with its own compressor; members (a recycled buffer and its length) are
/// collected by chunk index. Every mutable field is read and written only while `cond` is locked
/// (hence `@unchecked Sendable`).
final class ChunkPool: @unchecked Sendable {
    private let cond = NSCondition()
    private var queue: [ChunkJob] = []
    private var results: [Int: Result<([UInt8], Int), Error>] = [:]
    private var stopping = false
    private let inputs: BufferRecycler, outputs: BufferRecycler

    /// One worker thread per compressor (allocated by the caller, so a failure is an error there).
    init(compressors: [ChunkCompressor], inputs: BufferRecycler, outputs: BufferRecycler) {
        self.inputs = inputs
        self.outputs = outputs
        for c in compressors {
            let box = CompressorBox(c)
            let t = Thread { [self] in self.work(box.compressor) }
            t.stackSize = 1 << 20
            t.start()
        }
    }

    func submit(_ job: ChunkJob) {
        cond.lock()
        queue.append(job)
        cond.signal()
        cond.unlock()
    }

    func take(_ index: Int, wait: Bool) -> Result<([UInt8], Int), Error>? {
        cond.lock(); defer { cond.unlock() }
        while results[index] == nil {
            if !wait { return nil }
            cond.wait()
        }
        return results.removeValue(forKey: index)
    }

    /// Workers finish the queued chunks, then exit.
    func stop() {
        cond.lock()
        stopping = true
        cond.broadcast()
        cond.unlock()
    }

    private func work(_ compressor: ChunkCompressor) {
        while true {
            cond.lock()
            while queue.isEmpty && !stopping { cond.wait() }
            if queue.isEmpty { cond.unlock(); return }
            // Removed from the queue at once: a taken job's input must not stay referenced
            // (at most `maxInFlight` jobs are queued, so removing the first is cheap).
            let job = queue.removeFirst()
            cond.unlock()
            var out = outputs.take()
            let r = Result { () throws -> ([UInt8], Int) in
                let n = try compressor.member(job, into: &out)
                return (out, n)
            }
            inputs.give(job.input)
            cond.lock()
            results[job.index] = r
            cond.broadcast()
            cond.unlock()
        }
    }
}

/// Hands one compressor to exactly one worker thread (it is never shared after that).
private struct CompressorBox: @unchecked Sendable {
    let compressor: ChunkCompressor
    init(_ c: ChunkCompressor) { compressor = c }
}

extension Gzip {
    /// Chunked libdeflate gzip (one member per chunk), as image layers use; same bytes for any thread count.
    public static func compressParallel(_ data: Data, level: Int, threads: Int,
                                        chunkSize: Int = ParallelGzipSink.defaultChunkSize) throws -> Data {
        let sink = DataSink()
        let gz = try ParallelGzipSink(sink, level: level, threads: threads, chunkSize: chunkSize)
        try gz.write(data)
        try gz.finish()
        return sink.data
    }
}
