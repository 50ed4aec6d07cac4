import Foundation
import KilnArchive
import KilnCore
import KilnOCI
import KilnCrypto

/// A written layer: its blob descriptor plus the digest of the uncompressed tar (`diff_id`).
public struct LayerResult: Sendable {
    public var descriptor: OCIDescriptor
    public var diffID: String
    public var uncompressedSize: Int64
}

/// Writes deterministic layer blobs: tar (libarchive; sorted paths, one mtime, numeric owners
/// from the entries, no atime/ctime) → SHA-256 (diff_id) → chunked libdeflate gzip on all cores
/// (`ParallelGzipSink`) → SHA-256 (digest) → `blobs/sha256/<digest>`, in one pass with no second read.
public enum LayerWriter {
    public static let mediaType = OCIMediaType.imageLayerGzip
    /// The image default: the fastest libdeflate level whose output is no larger than umoci's on
    /// the benchmark tree (scripts/bench-layers.sh; README "Layer benchmark").
    public static let defaultLevel = 2

    /// Writes `entries` into a new blob under `blobsDir` (`<layout>/blobs/sha256`).
    public static func write(entries: [TarEntry], epoch: Int64, blobsDir: String,
                             level: Int = LayerWriter.defaultLevel, threads: Int = 0) throws -> LayerResult {
        try FileManager.default.createDirectory(atPath: blobsDir, withIntermediateDirectories: true)
        let tmp = AtomicFile.temporaryPath(for: blobsDir + "/layer")
        var ok = false
        defer { if !ok { unlink(tmp) } }
        let file = try FileSink(path: tmp)
        let compressed = try DigestingSink(file, algorithms: [.sha256])
        let gz = try ParallelGzipSink(compressed, level: level,
                                      threads: threads > 0 ? threads : ProcessInfo.processInfo.activeProcessorCount)
        let plain = try DigestingSink(gz, algorithms: [.sha256])
        // Entries are sorted here (byte order) and streamed; file contents are streamed from disk
        // by the tar writer through one reused buffer (never a whole file in memory).
        let sorted = entries.sorted { TarEntry.pathPrecedes($0.path, $1.path) }
        let tar = try TarWriter(sink: plain, options: TarWriterOptions(epoch: epoch, endOfArchive: true, sortEntries: false))
        for e in sorted { try tar.write(e) }
        try tar.finish()
        try plain.close()       // closes gzip (trailer) and the file
        let diff = try plain.digest(.sha256), dig = try compressed.digest(.sha256)
        let digest = "sha256:" + dig.hexString
        try AtomicFile.rename(tmp, to: blobsDir + "/" + dig.hexString)
        ok = true
        return LayerResult(descriptor: OCIDescriptor(mediaType: mediaType, digest: digest, size: compressed.byteCount),
                           diffID: "sha256:" + diff.hexString, uncompressedSize: plain.byteCount)
    }
}
