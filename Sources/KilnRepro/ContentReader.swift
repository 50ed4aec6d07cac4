import Foundation
import KilnCore

/// Pass 2 of the differ: reads again, from wherever they are (`ContentSource`), the capped heads
/// and single blocks of contents whose digests differ, and finds the first differing byte of two
/// artifacts' own bytes by reading both in lockstep. Nothing is read whole.
enum ContentReader {
    /// What to keep of one content.
    struct Want {
        var source: ContentSource
        /// Bytes from the start.
        var head: Int
        /// A `ContentDigest` block to keep as well.
        var block: Int?
    }

    /// Collects every want (all entries of one archive in one pass over it), in the order given.
    static func collect(_ wants: [Want]) throws -> [ContentCollector] {
        var out = wants.map { ContentCollector(head: $0.head, block: $0.block) }
        var byArchive: [String: [(want: Int, member: Int)]] = [:]
        for (i, w) in wants.enumerated() {
            switch w.source {
            case .data(let d):
                out[i].update(d)
            case .file(let p):
                let c = out[i]
                do { try ArchiveScan.read(p) { c.update($0); if c.satisfied { throw ArchiveScan.Stop() } } } catch is ArchiveScan.Stop {}
            case .member(let archive, let index):
                byArchive[archive, default: []].append((i, index))
            }
        }
        for (archive, list) in byArchive.sorted(by: { $0.key < $1.key }) {
            guard let storage = try ArchiveScan.storage(archive) else {
                throw ReproError.invalid("\(archive): no longer a tar archive (was it changed while kiln compared it?)")
            }
            var members: [Int: (head: Int, block: Int?)] = [:]
            for (i, m) in list { members[m] = (wants[i].head, wants[i].block) }
            let got = try ArchiveScan.collect(archive, storage, name: archive, wants: members)
            for (i, m) in list {
                guard let c = got[m] else {
                    throw ReproError.invalid("\(archive): entry #\(m + 1) is gone (was it changed while kiln compared it?)")
                }
                out[i] = c
            }
        }
        return out
    }

    /// The first differing byte of two artifacts' own bytes, both read in 256 KiB pieces side by
    /// side (nil when equal).
    static func firstDifference(_ a: ContentSource, _ b: ContentSource) throws -> Int? {
        let x = try Puller(a), y = try Puller(b)
        var offset = 0
        while true {
            let p = try x.next(1 << 18), q = try y.next(1 << 18)
            if let d = firstDifferingByte(p, q) { return offset + d }
            if p.isEmpty { return nil }
            offset += p.count
        }
    }

    /// Reads a data or file source in pieces.
    final class Puller {
        let data: Data?
        let fd: Int32
        let path: String
        var pos = 0

        init(_ s: ContentSource) throws {
            switch s {
            case .data(let d): data = d; fd = -1; path = "<memory>"
            case .file(let p):
                data = nil; path = p
                fd = open(p, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw ReproError.unreadable(path: p, reason: String(cString: strerror(errno))) }
            case .member(let archive, let index):
                throw ReproError.invalid("\(archive): entry #\(index + 1) is not an artifact of its own")
            }
        }
        deinit { if fd >= 0 { close(fd) } }

        /// Up to `n` bytes (fewer only at the end).
        func next(_ n: Int) throws -> Data {
            if let data {
                let lo = data.startIndex + pos, hi = min(lo + n, data.endIndex)
                pos += hi - lo
                return data.subdata(in: lo..<hi)
            }
            var out = Data(count: n), got = 0
            while got < n {
                let r = out.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress! + got, n - got) }
                if r < 0 {
                    if errno == EINTR { continue }
                    throw ReproError.unreadable(path: path, reason: String(cString: strerror(errno)))
                }
                if r == 0 { break }
                got += r
            }
            out.count = got
            return out
        }
    }
}
