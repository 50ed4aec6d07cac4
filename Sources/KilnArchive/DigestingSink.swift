import Foundation
import KilnCrypto

/// Hashes everything written (one or more algorithms, via KilnCrypto/OpenSSL) and passes it on.
/// `close()` closes the next sink; digests are final after the first read of `digests`.
public final class DigestingSink: ByteSink {
    private let next: ByteSink
    private var streams: [(DigestAlgorithm, DigestStream)]
    private var final: [DigestAlgorithm: [UInt8]]?
    public private(set) var byteCount: Int64 = 0

    public init(_ next: ByteSink, algorithms: [DigestAlgorithm]) throws {
        self.next = next
        streams = try algorithms.map { ($0, try DigestStream($0)) }
    }

    /// Convenience: hash without passing the bytes anywhere.
    public convenience init(algorithms: [DigestAlgorithm]) throws {
        try self.init(DatalessSink(), algorithms: algorithms)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard final == nil else { throw ArchiveError.corrupt(context: "digesting sink", reason: "write after the digests were taken") }
        for (_, s) in streams { s.update(bytes) }
        byteCount += Int64(bytes.count)
        try next.write(bytes)
    }

    public func close() throws { try next.close() }

    /// The digests of everything written so far; finalizes (later writes fail).
    public var digests: [DigestAlgorithm: [UInt8]] {
        get throws {
            if let final { return final }
            var d: [DigestAlgorithm: [UInt8]] = [:]
            for (a, s) in streams { d[a] = try s.finalize() }
            final = d
            return d
        }
    }

    public func digest(_ algorithm: DigestAlgorithm) throws -> [UInt8] {
        guard let d = try digests[algorithm] else {
            throw ArchiveError.corrupt(context: "digesting sink", reason: "\(algorithm.rawValue) was not requested")
        }
        return d
    }
}

/// Discards bytes (for hashing or counting only).
public final class DatalessSink: ByteSink {
    public init() {}
    public func write(_ bytes: UnsafeRawBufferPointer) throws {}
    public func close() throws {}
}
