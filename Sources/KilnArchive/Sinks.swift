import Foundation
import KilnCore

/// Where archive and compression writers put their bytes. Writers never close the sink they are
/// given unless documented; `close()` flushes and finishes (a GzipSink writes its trailer, a
/// FileSink closes its descriptor).
public protocol ByteSink: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer) throws
    func close() throws
}

extension ByteSink {
    public func write(_ data: Data) throws {
        try data.withUnsafeBytes { try write($0) }
    }
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }
}

/// Collects everything in memory.
public final class DataSink: ByteSink {
    public private(set) var data = Data()
    public init() {}
    public func write(_ bytes: UnsafeRawBufferPointer) throws { data.append(contentsOf: bytes) }
    public func close() throws {}
}

/// Writes to a file (created or truncated, mode 0644). Use with `AtomicFile.produce` so a failed
/// run never leaves a partial output under the final name.
public final class FileSink: ByteSink {
    public let path: String
    private var fd: Int32
    private var buffer = [UInt8]()
    private static let bufferSize = 1 << 18

    public init(path: String, mode: mode_t = 0o644) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw ArchiveError.io(path: path, what: "cannot create", errno: errno) }
        buffer.reserveCapacity(FileSink.bufferSize)
    }

    deinit { if fd >= 0 { Foundation.close(fd) } }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard fd >= 0 else { throw ArchiveError.io(path: path, what: "write after close to", errno: EBADF) }
        if buffer.count + bytes.count > FileSink.bufferSize { try flush() }
        if bytes.count >= FileSink.bufferSize { try writeAll(bytes) } else { buffer.append(contentsOf: bytes) }
    }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var off = 0
        while off < bytes.count {
            let n = Foundation.write(fd, bytes.baseAddress! + off, bytes.count - off)
            if n < 0 {
                if errno == EINTR { continue }
                throw ArchiveError.io(path: path, what: "cannot write", errno: errno)
            }
            off += n
        }
    }

    public func close() throws {
        guard fd >= 0 else { return }
        try flush()
        let rc = Foundation.close(fd)
        fd = -1
        if rc != 0 { throw ArchiveError.io(path: path, what: "cannot close", errno: errno) }
    }
}

/// Counts bytes and passes them on (e.g. the compressed size of a layer).
public final class CountingSink: ByteSink {
    public let next: ByteSink
    public private(set) var byteCount: Int64 = 0
    public init(_ next: ByteSink) { self.next = next }
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        byteCount += Int64(bytes.count)
        try next.write(bytes)
    }
    public func close() throws { try next.close() }
}
